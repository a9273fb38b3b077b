//! The operators' web page on the HTTP listener (`--http-listen`): its embedded files at
//! `/`, and a JSON API under `/api/` for it. The API is a thin layer: each request is
//! converted, handed to the gRPC service in process (the same code gRPC clients reach,
//! with the caller's `Authorization` as metadata), and its answer converted back.
//!
//! | request | gRPC |
//! |---|---|
//! | `GET /api/sagas?status=&definition=&key=&customer=&stuck_for_ms=&parked=&page_size=&page_token=` | ListSagas |
//! | `GET /api/sagas/{id}` | GetSaga |
//! | `GET /api/sagas/{id}/events?from_seq=` (server-sent events) | WatchSaga |
//! | `GET /api/events?status=&definition=` (server-sent events) | WatchSagas |
//! | `POST /api/sagas/{id}/retry`, `/abort`, `/resolve` `{reason, request_id}` | RetrySaga, AbortSaga, ResolveSaga |
//! | `POST /api/sagas/{id}/skip` `{step, output_json, reason, request_id}` | SkipStep |
//! | `GET /api/definitions`, `GET /api/definitions/{name}?version=` | ListDefinitions, GetDefinition |
//!
//! Every route is behind the guard (`guard.rs`): a request to a host name not allowed, or a POST from
//! another site, is refused 403.

mod actions;
mod assets;
mod call;
mod definitions;
mod error;
mod events;
mod guard;
mod sagas;

use axum::Router;
use axum::http::Uri;
use axum::middleware;
use axum::routing::{get, post};

use crate::api::OrchestratorApi;
/// Why a web request failed, and its HTTP answer.
pub use error::WebError;
use guard::AllowedHosts;

/// The page and its API over `api`, to serve beside `/metrics`; they answer requests to
/// IP literals, `localhost` and the `allowed_hosts` (`--http-allowed-hosts`) only.
pub fn router(api: OrchestratorApi, allowed_hosts: &[String]) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{name}", get(assets::file))
        .route("/api/sagas", get(sagas::list))
        .route("/api/sagas/{id}", get(sagas::get))
        .route("/api/sagas/{id}/events", get(events::saga))
        .route("/api/sagas/{id}/retry", post(actions::retry))
        .route("/api/sagas/{id}/abort", post(actions::abort))
        .route("/api/sagas/{id}/resolve", post(actions::resolve))
        .route("/api/sagas/{id}/skip", post(actions::skip))
        .route("/api/events", get(events::sagas))
        .route("/api/definitions", get(definitions::list))
        .route("/api/definitions/{name}", get(definitions::get))
        .fallback(|uri: Uri| async move { WebError::NoRoute(uri.path().to_string()) })
        .with_state(api)
        .layer(middleware::from_fn_with_state(
            AllowedHosts::new(allowed_hosts),
            guard::check,
        ))
}

#[cfg(test)]
mod tests;
