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
            if offer(&sink, entry_to_proto(entry)).await == Offered::Gone {
                return;
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

/// Whether a watcher took an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    Taken,
    /// Gone, or a whole buffer behind and cut off (told why, if it still listens).
    Gone,
}

/// Offers `item` to a watcher without waiting: one that fell a whole buffer behind is
/// told why its stream ends (within a bounded wait for room) and let go.
pub async fn offer<T>(sink: &mpsc::Sender<Result<T, Status>>, item: T) -> Offered {
    match sink.try_send(Ok(item)) {
        Ok(()) => Offered::Taken,
        Err(TrySendError::Full(_)) => {
            tracing::warn!("a saga watcher fell behind and is cut off");
            let status = Status::resource_exhausted(format!(
                "the watcher fell {WATCH_BUFFER} records behind; watch again from the last seq it read"
            ));
            let _ = tokio::time::timeout(CUT_OFF_PATIENCE, sink.send(Err(status))).await;
            Offered::Gone
        }
        Err(TrySendError::Closed(_)) => Offered::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watcher_a_whole_buffer_behind_is_told_why_and_let_go() {
        let (sink, mut watcher) = mpsc::channel::<Result<u32, Status>>(1);
        assert_eq!(offer(&sink, 1).await, Offered::Taken);
        // The test's runtime has one thread: the offer finds the buffer full before the
        // watcher reads, and waits to tell it why.
        let cut = tokio::spawn(async move { offer(&sink, 2).await });
        tokio::task::yield_now().await;
        assert_eq!(watcher.recv().await.map(|r| r.ok()), Some(Some(1)));
        let why = watcher.recv().await.and_then(|r| r.err());
        assert_eq!(why.map(|s| s.code()), Some(tonic::Code::ResourceExhausted));
        assert_eq!(cut.await.ok(), Some(Offered::Gone));
        assert!(watcher.recv().await.is_none(), "nothing after the notice");
    }
}
