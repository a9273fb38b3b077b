//! The one mapping from orchestrator errors to gRPC status codes.

use tonic::Status;

use crate::auth::Denied;
use crate::definitions::DefinitionError;
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
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// The caller may not make this call (no token, an unknown one, or too small a role).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The caller is over a limit (watchers of a connection, actions of a principal).
    #[error("{0}")]
    Exhausted(String),
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
            ApiError::Engine(EngineError::ShuttingDown | EngineError::NotYet(_)) => {
                Status::unavailable(message)
            }
            ApiError::Engine(EngineError::Refused(_)) => Status::failed_precondition(message),
            ApiError::Engine(EngineError::Store(cause)) => store_status(cause),
            ApiError::Definition(DefinitionError::Invalid(_)) => Status::invalid_argument(message),
            ApiError::Definition(DefinitionError::NotFound { .. }) => Status::not_found(message),
            ApiError::Definition(DefinitionError::Store(cause)) => store_status(cause),
            ApiError::Denied(Denied::Unauthenticated(_)) => Status::unauthenticated(message),
            ApiError::Denied(Denied::Forbidden { .. }) => Status::permission_denied(message),
            ApiError::Exhausted(_) => Status::resource_exhausted(message),
        }
    }
}

fn store_status(cause: StoreError) -> Status {
    match cause {
        StoreError::Unavailable(cause) => {
            tracing::error!(error = %cause, "saga log unavailable");
            Status::unavailable("saga log unavailable")
        }
        StoreError::Closed => Status::unavailable("shutting down"),
        cause => {
            tracing::error!(error = %cause, "saga log error");
            Status::internal("internal error")
        }
    }
}
