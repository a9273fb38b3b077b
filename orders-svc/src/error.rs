//! Why an orders call failed, and the one mapping of that to a gRPC status.

use tonic::Status;

/// A failed call, by cause: the caller's fault (`Invalid`, `NotFound`, `Refused`) or
/// ours (`Storage`, `UnreadableAnswer`).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; nothing was written.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The named thing does not exist.
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    /// The request is well formed but the order's state forbids it; nothing was written.
    #[error("{0}")]
    Refused(String),
    /// The database failed; the call may be retried.
    #[error("storage failed")]
    Storage(#[from] sqlx::Error),
    /// A recorded first answer could not be decoded.
    #[error("the recorded answer cannot be decoded")]
    UnreadableAnswer(#[from] prost::DecodeError),
}

impl ApiError {
    /// A validation error naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            ApiError::NotFound { .. } => Status::not_found(error.to_string()),
            ApiError::Refused(reason) => Status::failed_precondition(reason),
            ApiError::Storage(cause) => {
                tracing::error!(error = %cause, "storage failed");
                Status::unavailable("storage unavailable")
            }
            ApiError::UnreadableAnswer(cause) => {
                tracing::error!(error = %cause, "a recorded answer cannot be decoded");
                Status::internal("recorded answer unreadable")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn each_cause_maps_to_its_code_and_message() {
        let cases = [
            (
                ApiError::invalid("customer_id", "must not be empty"),
                Code::InvalidArgument,
                "customer_id: must not be empty",
            ),
            (
                ApiError::NotFound {
                    what: "order",
                    id: "o1".into(),
                },
                Code::NotFound,
                "order \"o1\" not found",
            ),
            (
                ApiError::Refused("no".into()),
                Code::FailedPrecondition,
                "no",
            ),
            (
                ApiError::Storage(sqlx::Error::PoolClosed),
                Code::Unavailable,
                "storage unavailable",
            ),
        ];
        for (error, code, message) in cases {
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }
}
