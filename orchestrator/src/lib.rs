//! The saga orchestrator: runs *place order → issue invoice → confirm order* sagas over a
//! durable saga log, compensating completed steps when a later one fails for good.
//!
//! `saga` decides (pure), `engine` acts (IO), `store` remembers, `definitions` registers
//! saga definitions, `api` talks gRPC.

pub mod api;
pub mod config;
pub mod definitions;
pub mod dynamic;
pub mod engine;
pub mod saga;
pub mod startup;
pub mod store;
