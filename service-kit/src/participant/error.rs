//! Why a participant call failed, and the one mapping of that to a gRPC status.

use tonic::Status;

/// A failed participant call, by cause: the caller's fault (`Invalid`, `NotFound`,
/// `Refused`, `Duplicate`) or ours (`Storage`, `UnreadableAnswer`).
///
/// The orchestrator acts on the code alone: INVALID_ARGUMENT, NOT_FOUND and
/// FAILED_PRECONDITION are final; UNAVAILABLE may be retried; INTERNAL is ours to fix.
#[derive(Debug, thiserror::Error)]
pub enum ParticipantError {
    /// The request is malformed; nothing was written. The message starts with the field.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The named thing does not exist.
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    /// The request is well formed but the thing's state (or a limit of the service)
    /// forbids it; nothing was written.
    #[error("{0}")]
    Refused(String),
    /// A key the caller chose is already taken by another request; nothing was written.
    #[error("{0}")]
    Duplicate(String),
    /// The database failed; the call may be retried.
    #[error("storage failed")]
    Storage(#[from] sqlx::Error),
    /// A recorded first answer could not be decoded.
    #[error("the recorded answer cannot be decoded")]
    UnreadableAnswer(#[from] prost::DecodeError),
}

impl ParticipantError {
    /// A validation error naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<ParticipantError> for Status {
    /// Our own failures reach the client as a short message; their cause goes to the log.
    fn from(error: ParticipantError) -> Self {
        match error {
            ParticipantError::Invalid { .. } => Status::invalid_argument(error.to_string()),
            ParticipantError::NotFound { .. } => Status::not_found(error.to_string()),
            ParticipantError::Refused(reason) => Status::failed_precondition(reason),
            ParticipantError::Duplicate(reason) => Status::already_exists(reason),
            ParticipantError::Storage(cause) => {
                tracing::error!(error = %cause, "storage failed");
                Status::unavailable("storage unavailable")
            }
            ParticipantError::UnreadableAnswer(cause) => {
                tracing::error!(error = %cause, "a recorded answer cannot be decoded");
                Status::internal("recorded answer unreadable")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use tonic::Code;

    use super::*;

    #[test]
    fn each_cause_maps_to_its_code_and_message() {
        let garbage = decode_error();
        let cases = [
            (
                ParticipantError::invalid("customer_id", "must not be empty"),
                Code::InvalidArgument,
                "customer_id: must not be empty",
            ),
            (
                ParticipantError::NotFound {
                    what: "order",
                    id: "o1".into(),
                },
                Code::NotFound,
                "order \"o1\" not found",
            ),
            (
                ParticipantError::Refused("no".into()),
                Code::FailedPrecondition,
                "no",
            ),
            (
                ParticipantError::Duplicate("taken".into()),
                Code::AlreadyExists,
                "taken",
            ),
            (
                ParticipantError::Storage(sqlx::Error::PoolClosed),
                Code::Unavailable,
                "storage unavailable",
            ),
            (
                ParticipantError::UnreadableAnswer(garbage),
                Code::Internal,
                "recorded answer unreadable",
            ),
        ];
        for (error, code, message) in cases {
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }

    /// A real decode failure: a varint field whose bytes end mid-value.
    fn decode_error() -> prost::DecodeError {
        #[derive(Clone, PartialEq, Message)]
        struct Answer {
            #[prost(uint64, tag = "1")]
            value: u64,
        }
        Answer::decode(&[0x08, 0xff][..]).expect_err("a truncated varint must not decode")
    }
}
