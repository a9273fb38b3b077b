//! `GET /api/sagas` (ListSagas) and `GET /api/sagas/{id}` (GetSaga), answered as proto3
//! JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_server::Orchestrator;
use serde::Deserialize;

use super::call::{answer, bad_query, request};
use super::error::WebError;
use crate::api::OrchestratorApi;

/// The list's filters, as the page sends them (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    /// A status name (`FAILED`, `failed` or `SAGA_STATUS_FAILED`); empty: any.
    status: String,
    definition: String,
    /// Text the idempotency key holds.
    key: String,
    customer: String,
    stuck_for_ms: u64,
    parked: bool,
    page_size: u32,
    page_token: String,
}

/// ListSagas: a page of sagas, newest first, with the counts per status.
pub async fn list(
    State(api): State<OrchestratorApi>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let Query(query) = query.map_err(bad_query)?;
    let message = pb::ListSagasRequest {
        status: status_named(&query.status)?.into(),
        definition: query.definition,
        key_contains: query.key,
        customer_id: query.customer,
        stuck_for_ms: query.stuck_for_ms,
        parked: query.parked,
        page_size: query.page_size,
        page_token: query.page_token,
        ..Default::default()
    };
    let listed = api.list_sagas(request(&headers, message)?).await?;
    answer(listed.get_ref(), "saga.v1.ListSagasResponse")
}

/// GetSaga: one saga with its steps, calls and log.
pub async fn get(
    State(api): State<OrchestratorApi>,
    Path(saga_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let saga = api
        .get_saga(request(&headers, pb::GetSagaRequest { saga_id })?)
        .await?;
    answer(saga.get_ref(), "saga.v1.Saga")
}

/// The status a filter names: empty for any, else its name with or without the
/// `SAGA_STATUS_` prefix, in any case.
pub fn status_named(text: &str) -> Result<pb::SagaStatus, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(pb::SagaStatus::Unspecified);
    }
    pb::SagaStatus::from_short_name(text).ok_or_else(|| {
            WebError::bad_request(
                "status",
                format!(
                    "unknown status {text:?} (one of RUNNING, COMPENSATING, COMPLETED, COMPENSATED, FAILED, RESOLVED)"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_named_in_any_case_with_or_without_its_prefix() {
        let named: Vec<_> = ["", "failed", "FAILED", "saga_status_resolved", " running "]
            .into_iter()
            .map(|text| status_named(text).ok())
            .collect();
        assert_eq!(
            named,
            [
                Some(pb::SagaStatus::Unspecified),
                Some(pb::SagaStatus::Failed),
                Some(pb::SagaStatus::Failed),
                Some(pb::SagaStatus::Resolved),
                Some(pb::SagaStatus::Running),
            ]
        );
    }

    #[test]
    fn an_unknown_status_is_a_bad_request_naming_the_field() {
        for text in ["lost", "UNSPECIFIED", "SAGA_STATUS_"] {
            match status_named(text) {
                Err(WebError::BadRequest { field, .. }) => assert_eq!(field, "status"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }
}
