//! The one place a participant's gRPC status is sorted into retry or give up.

use tonic::Code;

use crate::saga::Failure;

/// Transient codes may have taken effect and are retried; every other code is a
/// definite refusal by the participant (its barrier makes refusals effect-free).
pub fn classify(code: Code) -> Failure {
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
            assert_eq!(classify(code), expected, "{code:?}");
        }
    }
}
