//! `WatchSaga`: a saga's log records after a given seq, then each one as it commits,
//! until the record that ends the saga. Each watcher reads the log on its own (the saga's
//! driver never waits for it) into a bounded buffer; one that falls a whole buffer
//! behind is cut off with RESOURCE_EXHAUSTED.

use std::time::Duration;

use saga_contracts::saga::v1 as pb;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tonic::Status;

use super::convert::entry_to_proto;
use super::error::ApiError;
use crate::engine::Engine;
use crate::store::SagaRecord;

/// Records a watcher may have waiting unread.
pub const WATCH_BUFFER: usize = 256;
/// How long the cut-off notice waits for room in a slow watcher's buffer.
const CUT_OFF_PATIENCE: Duration = Duration::from_secs(10);

pub type Sink = mpsc::Sender<Result<pb::SagaLogEntry, Status>>;

/// Sends `saga`'s records after `from_seq`, then follows the saga until it ends, the
/// watcher goes away, or the orchestrator stops.
pub async fn follow(engine: Engine, mut saga: SagaRecord, from_seq: u32, sink: Sink) {
    let saga_id = saga.saga_id.clone();
    let mut last = from_seq;
    loop {
        // Before the next read, so that a commit after it is not missed.
        let change = engine.next_change(&saga_id);
        let seen = last;
        for entry in saga.log.into_iter().filter(|e| e.seq > seen) {
            last = entry.seq;
            match sink.try_send(Ok(entry_to_proto(entry))) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return cut_off(&sink, last).await,
                Err(TrySendError::Closed(_)) => return,
            }
        }
        if saga.state.status().is_terminal() || !engine.changed(change).await || sink.is_closed() {
            return;
        }
        saga = match engine.get(&saga_id).await {
            Ok(saga) => saga,
            Err(error) => {
                let _ = sink.send(Err(ApiError::from(error).into())).await;
                return;
            }
        };
    }
}

/// Tells a watcher that fell a whole buffer behind why its stream ends.
async fn cut_off(sink: &Sink, last: u32) {
    tracing::warn!(last_seq = last, "a saga watcher fell behind and is cut off");
    let status = Status::resource_exhausted(format!(
        "the watcher fell {WATCH_BUFFER} records behind; watch again from the last seq it read"
    ));
    let _ = tokio::time::timeout(CUT_OFF_PATIENCE, sink.send(Err(status))).await;
}
