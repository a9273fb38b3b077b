//! The invoices participant: issues and voids invoices on behalf of sagas, each call
//! idempotent per saga through the `service_kit::barrier`.
//!
//! Rooms: [`config`] (flags), [`startup`] ([`App`]), [`api`] (the gRPC edge),
//! [`convert`] (validation and wire conversions), [`service`] (the operations) and
//! [`plan`] (how a batch of them is decided and written together), [`store`] (sqlx),
//! [`domain`] (the types), [`error`] ([`ApiError`]).

pub mod api;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod plan;
pub mod service;
pub mod startup;
pub mod store;

pub use config::Config;
pub use error::ApiError;
pub use startup::{App, StartupError};
