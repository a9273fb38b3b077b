//! What the participant services (orders, invoices) share above the plumbing: the error
//! every call answers with and its one gRPC mapping ([`error`]), the validation of the
//! fields every participant request carries ([`validate`]), and start-up from the shared
//! flags to a bound listener, a migrated database and parsed faults ([`startup`]).
//!
//! Each participant keeps its own domain, store, service and gRPC edge; only what would
//! otherwise be copied, and could drift, lives here.

pub mod error;
pub mod faults_file;
pub mod startup;
pub mod validate;

pub use error::ParticipantError;
pub use startup::{Flags, Ready, StartupError};
