//! The orders participant: creates, confirms and cancels orders on behalf of sagas, each
//! call idempotent per saga through the `service_kit::barrier`.
//!
//! Rooms: [`config`] (flags), [`startup`] ([`App`]), [`api`] (the gRPC edge),
//! [`convert`] (validation and wire conversions), [`service`] (the operations, one write
//! transaction each), [`store`] (sqlx), [`domain`] (the types), [`error`] ([`ApiError`]).

pub mod api;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod service;
pub mod startup;
pub mod store;

pub use config::Config;
pub use error::ApiError;
pub use startup::{App, StartupError};
