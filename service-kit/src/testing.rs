//! Helpers for the services' own tests (feature `testing`, or this crate's tests): fresh
//! databases of every available backend, and a service binary run as a real process.

mod databases;
mod process;

#[cfg(test)]
pub(crate) use databases::orders_migrations;
pub use databases::{POSTGRES_ENV, databases, fresh_urls};
pub use process::ServiceProcess;
