//! The one mapping from orchestrator errors to gRPC status codes.

use tonic::Status;

use crate::engine::EngineError;
use crate::store::StoreError;

/// Why a request failed, as the API layer sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller's request is malformed; `field` names the culprit.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        let message = error.to_string();
        match error {
            ApiError::Invalid { .. } => Status::invalid_argument(message),
            ApiError::Engine(EngineError::KeyReused { .. }) => Status::already_exists(message),
            ApiError::Engine(EngineError::Overloaded) => Status::resource_exhausted(message),
            ApiError::Engine(EngineError::NotFound(_)) => Status::not_found(message),
            ApiError::Engine(EngineError::ShuttingDown) => Status::unavailable(message),
            ApiError::Engine(EngineError::Store(StoreError::Unavailable(cause))) => {
                tracing::error!(error = %cause, "saga log unavailable");
                Status::unavailable("saga log unavailable")
            }
            ApiError::Engine(EngineError::Store(StoreError::Closed)) => {
                Status::unavailable("shutting down")
            }
            ApiError::Engine(EngineError::Store(cause)) => {
                tracing::error!(error = %cause, "saga log error");
                Status::internal("internal error")
            }
        }
    }
}
