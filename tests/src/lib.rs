//! End-to-end harness: runs the orchestrator and both participants as real processes on
//! loopback, each on a fresh database of its own (a SQLite file in a temporary folder, or
//! a new PostgreSQL database), and checks the invariants that must hold across the three
//! services once every saga has ended.
//!
//! A test starts a [`Cluster`] from [`ClusterOptions`] (backend, faults, invoice limit,
//! retry tuning, supervised participants), drives it through the gRPC clients it exposes,
//! waits with [`Cluster::wait_until_all_terminal`] and ends with [`check_invariants`].
//! [`on_every_backend`] runs a test body on SQLite, then on PostgreSQL when
//! `SAGA_TEST_POSTGRES_URL` names a server.
//!
//! [`chaos`] runs a seeded fault campaign over the same processes (the `saga-chaos`
//! binary), optionally with several orchestrator replicas on one PostgreSQL database, and
//! checks the same invariants, plus the client's view of every key.

pub mod backend;
pub mod binaries;
pub mod chaos;
pub mod cluster;
pub mod collector;
pub mod direct;
pub mod http;
pub mod invariants;
pub mod listing;
pub mod nats;
pub mod options;
pub mod pattern;
pub mod poll;
pub mod process;
pub mod requests;
pub mod saga_log;
pub mod stock;
pub mod supervisor;
pub mod tls;

pub use backend::{Backend, on_every_backend};
pub use cluster::Cluster;
pub use invariants::{Counts, Summary, check_invariants};
pub use options::ClusterOptions;
