//! What the engine reports to its callers.

use crate::store::StoreError;

/// Why the engine could not do what a caller asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The caller reused an idempotency key for a different order.
    #[error("idempotency key already used by saga {saga_id} for a different order")]
    KeyReused { saga_id: String },
    /// Too many sagas in flight, or a queue for a place longer than the saga may wait;
    /// the caller should retry later.
    #[error("overloaded: too many sagas in flight or queued; retry later")]
    Overloaded,
    #[error("saga {0} not found")]
    NotFound(String),
    /// The orchestrator is stopping and accepts no new sagas.
    #[error("shutting down")]
    ShuttingDown,
    /// An operator's action makes no sense in the saga's state (the message names it);
    /// nothing was written.
    #[error("{0}")]
    Refused(String),
    /// An operator's request did not get through in time; asking again with the same
    /// request id is safe.
    #[error("{0}; ask again with the same request_id")]
    NotYet(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
