//! Operators' actions from the page: `POST /api/sagas/{id}/retry|abort|resolve` with
//! `{reason, request_id}`, and `POST /api/sagas/{id}/skip` with `{step, output_json,
//! reason, request_id}`; each answers the saga after the action, as proto3 JSON.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_server::Orchestrator;
use serde::Deserialize;

use super::call::{answer, bad_body, request};
use super::error::WebError;
use crate::api::OrchestratorApi;

/// The body of retry, abort and resolve. Missing fields are left to the gRPC service,
/// which names them.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Because {
    reason: String,
    request_id: String,
}

/// The body of skip.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Skip {
    step: String,
    output_json: String,
    reason: String,
    request_id: String,
}

/// RetrySaga.
pub async fn retry(
    State(api): State<OrchestratorApi>,
    Path(saga_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Because>, JsonRejection>,
) -> Result<Response, WebError> {
    let Json(Because { reason, request_id }) = body.map_err(bad_body)?;
    let message = pb::RetrySagaRequest {
        saga_id,
        reason,
        request_id,
    };
    let saga = api.retry_saga(request(&headers, message)?).await?;
    answer(saga.get_ref(), "saga.v1.Saga")
}

/// AbortSaga.
pub async fn abort(
    State(api): State<OrchestratorApi>,
    Path(saga_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Because>, JsonRejection>,
) -> Result<Response, WebError> {
    let Json(Because { reason, request_id }) = body.map_err(bad_body)?;
    let message = pb::AbortSagaRequest {
        saga_id,
        reason,
        request_id,
    };
    let saga = api.abort_saga(request(&headers, message)?).await?;
    answer(saga.get_ref(), "saga.v1.Saga")
}

/// ResolveSaga.
pub async fn resolve(
    State(api): State<OrchestratorApi>,
    Path(saga_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Because>, JsonRejection>,
) -> Result<Response, WebError> {
    let Json(Because { reason, request_id }) = body.map_err(bad_body)?;
    let message = pb::ResolveSagaRequest {
        saga_id,
        reason,
        request_id,
    };
    let saga = api.resolve_saga(request(&headers, message)?).await?;
    answer(saga.get_ref(), "saga.v1.Saga")
}

/// SkipStep.
pub async fn skip(
    State(api): State<OrchestratorApi>,
    Path(saga_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Skip>, JsonRejection>,
) -> Result<Response, WebError> {
    let Json(skip) = body.map_err(bad_body)?;
    let message = pb::SkipStepRequest {
        saga_id,
        step: skip.step,
        output_json: skip.output_json,
        reason: skip.reason,
        request_id: skip.request_id,
    };
    let saga = api.skip_step(request(&headers, message)?).await?;
    answer(saga.get_ref(), "saga.v1.Saga")
}
