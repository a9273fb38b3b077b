//! End-to-end harness: runs the orchestrator and both participants as real processes on
//! loopback, each on its own SQLite file in a fresh temporary folder, and checks the
//! invariants that must hold across the three services once every saga has ended.
//!
//! A test starts a [`Cluster`] from [`ClusterOptions`] (faults, invoice limit, retry
//! tuning, supervised participants), drives it through the gRPC clients it exposes, waits
//! with [`Cluster::wait_until_all_terminal`] and ends with [`check_invariants`].
//!
//! [`chaos`] runs a seeded fault campaign over the same processes (the `saga-chaos`
//! binary) and checks the same invariants, plus the client's view of every key.

pub mod binaries;
pub mod chaos;
pub mod cluster;
pub mod invariants;
pub mod listing;
pub mod options;
pub mod poll;
pub mod process;
pub mod requests;
pub mod saga_log;
pub mod supervisor;

pub use cluster::Cluster;
pub use invariants::{Counts, Summary, check_invariants};
pub use options::ClusterOptions;
