//! Server-sent events over the gRPC watches, for a page that updates without a reload.
//!
//! - `GET /api/sagas/{id}/events?from_seq=N` (WatchSaga): an `entry` event per log
//!   record (its proto3 JSON, its seq as the event id, so a reconnecting browser resumes
//!   after it through `Last-Event-ID`), then `end` once the record that ends the saga was
//!   sent.
//! - `GET /api/events?status=&definition=` (WatchSagas): a `saga` event per record
//!   committed to a saga the filters let through (a `SagaEvent`).
//!
//! A watch the gRPC service cuts off (a watcher too far behind, a stopping orchestrator)
//! ends with a `failure` event `{code, message}` instead.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_server::Orchestrator;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::TcpConnectInfo;

use super::call::{bad_query, request};
use super::error::{WebError, grpc_to_http};
use super::sagas::status_named;
use crate::api::OrchestratorApi;

/// Events waiting for a slow browser before the watch behind them waits too (the gRPC
/// watch's own bound then cuts it off).
const EVENT_BUFFER: usize = 16;

/// The stream of events a page reads, with a comment now and then so that proxies and
/// browsers keep an idle watch open.
pub type Events = Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>;

/// WatchSaga's query: where a page that already drew the saga resumes, so that it is
/// sent only the records it does not have.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FromSeq {
    /// The last record the page has (0: none).
    from_seq: u32,
}

/// WatchSagas' query: which sagas' records the list wants (empty: all), so that a
/// filtered list is not woken by sagas it does not show.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SagasFilter {
    /// A status name, as the list's filter takes it.
    status: String,
    /// A definition's name.
    definition: String,
}

/// WatchSaga as events, from `from_seq` (or the browser's `Last-Event-ID`).
pub async fn saga(
    State(api): State<OrchestratorApi>,
    Path(saga_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<FromSeq>, QueryRejection>,
) -> Result<Events, WebError> {
    let Query(FromSeq { from_seq }) = query.map_err(bad_query)?;
    let from_seq = last_event_id(&headers)?.unwrap_or(from_seq);
    let message = pb::WatchSagaRequest { saga_id, from_seq };
    let records = api.watch_saga(watch(&headers, peer, message)?).await?;
    Ok(forward(records.into_inner(), true, |entry| {
        let data = saga_contracts::json::to_json_string(&entry, "saga.v1.SagaLogEntry")?;
        Ok(Event::default()
            .event("entry")
            .id(entry.seq.to_string())
            .data(data))
    }))
}

/// WatchSagas as events, for the list's live rows and counts.
pub async fn sagas(
    State(api): State<OrchestratorApi>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<SagasFilter>, QueryRejection>,
) -> Result<Events, WebError> {
    let Query(filter) = query.map_err(bad_query)?;
    let message = pb::WatchSagasRequest {
        status: status_named(&filter.status)?.into(),
        definition: filter.definition,
    };
    let events = api.watch_sagas(watch(&headers, peer, message)?).await?;
    Ok(forward(events.into_inner(), false, |event| {
        let data = saga_contracts::json::to_json_string(&event, "saga.v1.SagaEvent")?;
        Ok(Event::default().event("saga").data(data))
    }))
}

/// A watch's request, counted against the watches of the browser's address: each of a
/// browser's event streams has a connection of its own (HTTP/1.1), so its address
/// without the port stands for the browser.
fn watch<T>(
    headers: &HeaderMap,
    peer: SocketAddr,
    message: T,
) -> Result<tonic::Request<T>, WebError> {
    let mut request = request(headers, message)?;
    let browser = SocketAddr::new(peer.ip(), 0);
    request.extensions_mut().insert(TcpConnectInfo {
        local_addr: None,
        remote_addr: Some(browser),
    });
    Ok(request)
}

/// The seq a reconnecting browser last received, if it says.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u32>, WebError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let seq = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok());
    seq.map(Some)
        .ok_or_else(|| WebError::bad_request("last-event-id", "is not a record's seq"))
}

/// Feeds the watch's items to the browser as events until the watch ends (then `end`,
/// when `says_end`), fails (then `failure`), or the browser goes away (then the watch
/// is dropped, which ends it in the gRPC service too).
fn forward<T, S>(
    mut items: S,
    says_end: bool,
    to_event: impl Fn(T) -> Result<Event, WebError> + Send + 'static,
) -> Events
where
    T: Send + 'static,
    S: Stream<Item = Result<T, tonic::Status>> + Send + Unpin + 'static,
{
    let (sink, events) = mpsc::channel(EVENT_BUFFER);
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                item = items.next() => item,
                () = sink.closed() => return,
            };
            let (event, last) = match item.map(|item| item.map_err(WebError::from)) {
                Some(Ok(item)) => match to_event(item) {
                    Ok(event) => (event, false),
                    Err(error) => (failure(&error), true),
                },
                Some(Err(error)) => (failure(&error), true),
                None if says_end => (Event::default().event("end").data("{}"), true),
                None => return,
            };
            if sink.send(Ok(event)).await.is_err() || last {
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(events)).keep_alive(KeepAlive::default())
}

/// The `failure` event: `{code, message}` as an HTTP error's body says them.
fn failure(error: &WebError) -> Event {
    let (code, message) = match error {
        WebError::Grpc(status) => (grpc_to_http(status.code()).1, status.message().to_string()),
        other => {
            tracing::error!(error = %other, "a web watch failed");
            ("INTERNAL", "internal error".to_string())
        }
    };
    let data = serde_json::json!({ "code": code, "message": message });
    Event::default().event("failure").data(data.to_string())
}
