//! Plumbing shared by the orchestrator and the participant services, so the three do not
//! drift apart: telemetry, shutdown, serving with health, SQLite set-up, paging tokens,
//! fault injection and the participant-side idempotency barrier.

pub mod barrier;
pub mod db;
pub mod faults;
pub mod paging;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
