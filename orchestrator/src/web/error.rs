//! The one mapping from what went wrong with a web request to its HTTP answer: a status
//! code and a JSON body `{code, message}` the page shows as it is.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tonic::Code;

/// Why a web request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The gRPC service refused or failed the call; its status says why.
    #[error("{}", .0.message())]
    Grpc(tonic::Status),
    /// The HTTP request itself is malformed.
    #[error("{field}: {reason}")]
    BadRequest {
        /// The header, parameter or field at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP layer turned the request away before it reached us (a body that is not
    /// JSON, a query that does not parse), with its own status and reason.
    #[error("{message}")]
    Rejected {
        /// The status the HTTP layer chose.
        status: StatusCode,
        /// Its reason, naming the culprit.
        message: String,
    },
    /// The guard refused the request: it came from another site, or was sent to a host
    /// name this orchestrator does not answer to.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing here serves the path.
    #[error("nothing is served at {0}")]
    NoRoute(String),
    /// An answer could not be written as JSON (a bug of ours).
    #[error(transparent)]
    Json(#[from] saga_contracts::json::JsonError),
}

impl WebError {
    /// A 400 naming `field` (a header or parameter the handler checks itself), so that
    /// the page can say which input to fix.
    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        WebError::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status and the gRPC-style code name of the body.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            WebError::Grpc(status) => grpc_to_http(status.code()),
            WebError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            WebError::Rejected { status, .. } if status.is_server_error() => (*status, "INTERNAL"),
            WebError::Rejected { status, .. } => (*status, "INVALID_ARGUMENT"),
            WebError::Forbidden(_) => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            WebError::NoRoute(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            WebError::Json(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }
}

impl From<tonic::Status> for WebError {
    fn from(status: tonic::Status) -> Self {
        WebError::Grpc(status)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            WebError::Json(error) => {
                tracing::error!(%error, "cannot write a web answer");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({ "code": code, "message": message });
        (status, Json(body)).into_response()
    }
}

/// The HTTP status of a gRPC code, and the code's name as the body says it: the codes
/// a client acts on have their own status (a conflict to reload and retry, a timeout or
/// an unavailable service to retry later), every other is a 500.
pub fn grpc_to_http(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::Ok => (StatusCode::OK, "OK"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        Code::OutOfRange => (StatusCode::BAD_REQUEST, "OUT_OF_RANGE"),
        Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
        Code::FailedPrecondition => (StatusCode::CONFLICT, "FAILED_PRECONDITION"),
        Code::Aborted => (StatusCode::CONFLICT, "ABORTED"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "DEADLINE_EXCEEDED"),
        Code::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, "CANCELLED"),
        Code::Unknown => (StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN"),
        Code::Unimplemented => (StatusCode::INTERNAL_SERVER_ERROR, "UNIMPLEMENTED"),
        Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        Code::DataLoss => (StatusCode::INTERNAL_SERVER_ERROR, "DATA_LOSS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_the_http_statuses_the_page_acts_on() {
        let table = [
            (Code::Ok, StatusCode::OK),
            (Code::InvalidArgument, StatusCode::BAD_REQUEST),
            (Code::OutOfRange, StatusCode::BAD_REQUEST),
            (Code::NotFound, StatusCode::NOT_FOUND),
            (Code::FailedPrecondition, StatusCode::CONFLICT),
            (Code::Aborted, StatusCode::CONFLICT),
            (Code::AlreadyExists, StatusCode::CONFLICT),
            (Code::Unauthenticated, StatusCode::UNAUTHORIZED),
            (Code::PermissionDenied, StatusCode::FORBIDDEN),
            (Code::ResourceExhausted, StatusCode::TOO_MANY_REQUESTS),
            (Code::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
            (Code::Cancelled, StatusCode::SERVICE_UNAVAILABLE),
            (Code::DeadlineExceeded, StatusCode::GATEWAY_TIMEOUT),
            (Code::Internal, StatusCode::INTERNAL_SERVER_ERROR),
            (Code::Unknown, StatusCode::INTERNAL_SERVER_ERROR),
            (Code::Unimplemented, StatusCode::INTERNAL_SERVER_ERROR),
            (Code::DataLoss, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        let mapped: Vec<_> = table.iter().map(|(c, _)| grpc_to_http(*c).0).collect();
        let expected: Vec<_> = table.iter().map(|(_, s)| *s).collect();
        assert_eq!(mapped, expected);
    }
}
