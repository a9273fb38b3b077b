//! The orders participant: creates, confirms and cancels orders on behalf of sagas, each
//! call idempotent per saga through the `service_kit::barrier`, and takes orders from
//! clients directly, each change committed with its event in an outbox.
//!
//! Rooms: [`config`] (flags), [`startup`] ([`App`]), [`api`] (the gRPC edge),
//! [`convert`] (validation and wire conversions), [`service`] (the saga operations) and
//! [`plan`] (how a batch of them is decided and written together), [`direct`] (orders placed directly and their invoicing
//! sagas' steps), [`outbox`], [`watch`] and [`relay`] (the events: stored, streamed, published), [`store`]
//! (sqlx), [`domain`] (the types), [`error`] ([`ApiError`]).

pub mod api;
pub mod config;
pub mod convert;
pub mod direct;
pub mod domain;
pub mod error;
pub mod outbox;
pub mod plan;
pub mod relay;
pub mod service;
pub mod startup;
pub mod store;
pub mod watch;

pub use config::Config;
pub use error::ApiError;
pub use startup::{App, StartupError};
