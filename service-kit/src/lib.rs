//! Plumbing shared by the orchestrator and the participant services, so the three do not
//! drift apart: telemetry, shutdown, serving with health, the database (SQLite or
//! PostgreSQL), the order events' broker (NATS JetStream), paging tokens, fault
//! injection, the participant-side idempotency barrier and write plans, the rule for ids'
//! text, and what
//! the participants share above that (their error, field validation and start-up).

pub mod barrier;
pub mod broker;
pub mod db;
pub mod faults;
pub mod http;
pub mod metrics;
pub mod paging;
pub mod participant;
pub mod saga_call;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod tls;
pub mod trace_context;
pub mod write_plan;
