//! `GET /api/definitions` (ListDefinitions: the latest version of each) and `GET
//! /api/definitions/{name}?version=N` (GetDefinition; no version: the latest), as proto3
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

/// GetDefinition's query: which version the saga page draws its lanes from (the one
/// its saga runs, not necessarily the latest).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VersionQuery {
    /// 0: the latest.
    version: u32,
}

/// ListDefinitions.
pub async fn list(
    State(api): State<OrchestratorApi>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let listed = api
        .list_definitions(request(&headers, pb::ListDefinitionsRequest {})?)
        .await?;
    answer(listed.get_ref(), "saga.v1.ListDefinitionsResponse")
}

/// GetDefinition: the version a saga runs (the saga page labels its lanes with it).
pub async fn get(
    State(api): State<OrchestratorApi>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let Query(VersionQuery { version }) = query.map_err(bad_query)?;
    let message = pb::GetDefinitionRequest { name, version };
    let info = api.get_definition(request(&headers, message)?).await?;
    answer(info.get_ref(), "saga.v1.DefinitionInfo")
}
