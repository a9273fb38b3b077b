//! The saga orchestrator: runs sagas of registered definitions (the built-in one is
//! *place order → issue invoice → confirm order*) over a durable saga log, compensating
//! completed steps when a later one fails for good.
//!
//! `saga_definitions::machine` decides (pure), `engine` acts (IO), `store` remembers,
//! `definitions` registers and loads saga definitions, `api` talks gRPC (letting through
//! what `auth` allows), `web` serves the operators' page over that same API, `upgrade`
//! reads what releases before definitions stored.

pub mod api;
pub mod auth;
pub mod config;
pub mod definitions;
pub mod dynamic;
pub mod engine;
pub mod invoicing;
pub mod metrics;
pub mod upgrade;
pub mod web;

pub mod startup;
pub mod store;
#[cfg(test)]
mod testing;
