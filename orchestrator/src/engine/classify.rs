//! The one place a participant's gRPC status is sorted into retry or give up.

use tonic::{Code, Status};

use saga_definitions::machine::Failure;

/// A status the participant did not send (the transport failed: a reset stream, a
/// closed connection, an HTTP/2 protocol error, whatever its code) may hide a call that
/// took effect, so it is retried. Of the participant's own answers, transient codes are
/// retried; every other code is a definite refusal (its barrier makes refusals
/// effect-free).
pub fn classify(status: &Status) -> Failure {
    if std::error::Error::source(status).is_some() {
        return Failure::Transient;
    }
    classify_code(status.code())
}

fn classify_code(code: Code) -> Failure {
    match code {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Cancelled
        // What tonic reports for a connection cut mid-call.
        | Code::Unknown => Failure::Transient,
        Code::Ok
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::DataLoss
        | Code::Unauthenticated => Failure::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retryable_codes_are_exactly_the_transient_ones() {
        let transient = [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Aborted,
            Code::Cancelled,
            Code::Unknown,
        ];
        for code in (0..=16).map(Code::from_i32) {
            let expected = if transient.contains(&code) {
                Failure::Transient
            } else {
                Failure::Permanent
            };
            assert_eq!(classify(&Status::new(code, "answer")), expected, "{code:?}");
        }
    }

    #[test]
    fn a_transport_failure_is_transient_whatever_its_code() {
        let mut reset = Status::internal("h2 protocol error: http2 error");
        reset.set_source(std::sync::Arc::new(std::io::Error::other("stream reset")));
        assert_eq!(classify(&reset), Failure::Transient);
        assert_eq!(classify(&Status::internal("a bug")), Failure::Permanent);
    }
}
