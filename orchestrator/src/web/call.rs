//! Web requests as calls of the gRPC service in process: the caller's `Authorization`
//! travels as gRPC metadata, and answers go back as proto3 JSON.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tonic::metadata::MetadataValue;

use super::error::WebError;

/// `message` as the gRPC service receives it from a gRPC client that sent the same
/// `Authorization` (so that checking tokens has one place, in the gRPC layer).
pub fn request<T>(headers: &HeaderMap, message: T) -> Result<tonic::Request<T>, WebError> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = MetadataValue::try_from(value.as_bytes())
            .map_err(|_| WebError::bad_request("authorization", "is not printable ASCII"))?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(request)
}

/// The gRPC answer `message` (of the proto type `full_name`) as a 200 with its proto3
/// JSON.
pub fn answer<M: prost::Message>(message: &M, full_name: &str) -> Result<Response, WebError> {
    let json = saga_contracts::json::to_json(message, full_name)?;
    Ok(Json(json).into_response())
}

/// A query string that did not parse, as a 400 naming the parameter.
pub fn bad_query(rejection: QueryRejection) -> WebError {
    WebError::Rejected {
        status: rejection.status(),
        message: rejection.body_text(),
    }
}

/// A body that is not the JSON asked for, as a 400 naming the field (axum says 422 for
/// JSON of the wrong shape; to the page both are bad input), or a 415 without a JSON
/// content type.
pub fn bad_body(rejection: JsonRejection) -> WebError {
    let status = match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        status if status.is_client_error() => StatusCode::BAD_REQUEST,
        status => status,
    };
    WebError::Rejected {
        status,
        message: rejection.body_text(),
    }
}
