//! `WatchSagas`: every record committed from the start of the watch on to the sagas a
//! filter lets through, each with its saga as it stands. The watcher looks at the sagas
//! changed since its watermark (less a margin, for the replicas' clocks) every
//! [`POLL`], reads the new records of each, and remembers the last seq it sent per
//! saga, so that no record goes twice.

use std::collections::HashMap;
use std::time::Duration;

use saga_contracts::saga::v1 as pb;
use tokio::sync::mpsc;
use tonic::Status;

use super::OrchestratorApi;
use super::convert::entry_to_proto;
use super::error::ApiError;
use super::watch::{Offered, offer};
use crate::engine::EngineError;
use crate::store::{SagaFilter, SagaRecord};

/// How often the watcher looks for changed sagas.
const POLL: Duration = Duration::from_millis(250);
/// How far before its watermark the watcher looks again: a replica whose clock lags
/// stamps its changes a little in the past.
const MARGIN_MS: i64 = 2_000;
/// Changed sagas read per look, page by page.
const PAGE: u32 = 500;

pub type Sink = mpsc::Sender<Result<pb::SagaEvent, Status>>;

/// What the watcher sent of one saga: its last seq, and when it last changed.
struct Sent {
    seq: u32,
    updated_at_ms: i64,
}

impl OrchestratorApi {
    /// Sends every new record of the sagas `filter` lets through until the watcher goes
    /// away or the orchestrator stops.
    pub(super) async fn follow_all(self, filter: SagaFilter, sink: Sink) {
        let started_ms = service_kit::db::now_ms();
        let mut watermark = started_ms;
        let mut sent: HashMap<String, Sent> = HashMap::new();
        loop {
            match self
                .look(&filter, started_ms, &mut watermark, &mut sent, &sink)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    let _ = sink.send(Err(ApiError::from(error).into())).await;
                    return;
                }
            }
            sent.retain(|_, s| s.updated_at_ms >= watermark - 2 * MARGIN_MS);
            tokio::time::sleep(POLL).await;
            if sink.is_closed() {
                return;
            }
        }
    }

    /// One look at the sagas changed since `watermark` (less the margin), page by page;
    /// false once the watcher is gone or cut off.
    async fn look(
        &self,
        filter: &SagaFilter,
        started_ms: i64,
        watermark: &mut i64,
        sent: &mut HashMap<String, Sent>,
        sink: &Sink,
    ) -> Result<bool, EngineError> {
        let mut since = *watermark - MARGIN_MS;
        loop {
            let page = self.engine.changed_since(filter, since, PAGE).await?;
            let newest = page.iter().map(|s| s.updated_at_ms).max().unwrap_or(since);
            for saga in &page {
                let last = sent.get(&saga.saga_id).map(|s| s.seq);
                if last == Some(saga.log_len) {
                    continue;
                }
                if !self
                    .send_new(&saga.saga_id, last, started_ms, sent, sink)
                    .await?
                {
                    return Ok(false);
                }
            }
            *watermark = (*watermark).max(newest);
            if page.len() < PAGE as usize || newest == since {
                return Ok(true);
            }
            since = newest;
        }
    }

    /// Sends the saga's records after `last` (or, when it was not seen yet, those
    /// committed since the watch started); false once the watcher is gone or cut off.
    async fn send_new(
        &self,
        saga_id: &str,
        last: Option<u32>,
        started_ms: i64,
        sent: &mut HashMap<String, Sent>,
        sink: &Sink,
    ) -> Result<bool, EngineError> {
        let full = match self.engine.get(saga_id).await {
            Ok(full) => full,
            Err(EngineError::NotFound(_)) => return Ok(true),
            Err(error) => return Err(error),
        };
        let SagaRecord { log, .. } = &full;
        let fresh: Vec<_> = log
            .iter()
            .filter(|e| match last {
                Some(seq) => e.seq > seq,
                None => e.at_ms >= started_ms,
            })
            .cloned()
            .collect();
        let seq = log.last().map_or(0, |e| e.seq);
        let updated_at_ms = full.updated_at_ms;
        let mut saga = self.view(full).await;
        saga.log.clear();
        for entry in fresh {
            let event = pb::SagaEvent {
                saga: Some(saga.clone()),
                entry: Some(entry_to_proto(entry)),
            };
            if offer(sink, event).await == Offered::Gone {
                return Ok(false);
            }
        }
        sent.insert(saga_id.to_string(), Sent { seq, updated_at_ms });
        Ok(true)
    }
}
