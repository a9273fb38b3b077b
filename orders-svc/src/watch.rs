//! `WatchOrderEvents`: the outbox as a gRPC server stream, for setups without a broker.
//! Event ids increase in commit order (see `outbox`), so a resumed stream misses none.
//! It reads what has committed, then waits for this process's next event (or polls, for
//! events other processes write to a shared database).

use std::sync::Arc;
use std::time::Duration;

use saga_contracts::orders::v1 as proto;
use service_kit::db::Db;
use tokio::sync::{Notify, mpsc};
use tonic::Status;

use crate::outbox;

/// Events read per query.
const PAGE: u32 = 256;
/// How often the stream looks for events it was not told about.
const POLL: Duration = Duration::from_millis(200);

/// Where a stream's events go; an `Err` ends the stream.
pub type Sink = mpsc::Sender<Result<proto::OrderEvent, Status>>;

/// Sends every event after `after`, in order, then each new one as it commits, until the
/// client goes away or the database fails (the client then resumes from its last id).
pub async fn follow(db: Db, committed: Arc<Notify>, mut after: u64, sink: Sink) {
    loop {
        let told = committed.notified();
        tokio::pin!(told);
        told.as_mut().enable();
        let events = match page(&db, after).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the outbox; the stream ends");
                let _ = sink
                    .send(Err(Status::unavailable("storage unavailable")))
                    .await;
                return;
            }
        };
        let full = events.len() >= PAGE as usize;
        for event in events {
            after = event.event_id;
            if sink.send(Ok(event)).await.is_err() {
                return;
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            () = &mut told => {}
            () = tokio::time::sleep(POLL) => {}
            () = sink.closed() => return,
        }
    }
}

async fn page(db: &Db, after: u64) -> Result<Vec<proto::OrderEvent>, sqlx::Error> {
    let mut tx = db.begin_read().await?;
    let events = outbox::after(&mut tx, after, PAGE).await?;
    tx.commit().await?;
    Ok(events)
}
