//! The outbox relay: publishes every committed outbox event to NATS JetStream, oldest
//! first, with the event id as `Nats-Msg-Id`, and marks an event published only once the
//! broker has acked it. A relay that stops between the publish and the mark publishes the
//! event again; the server drops that copy if it comes within the stream's duplicate
//! window, and a consumer that sees it anyway finds its saga already started. Its
//! injected faults are in [`faults`].

use std::sync::Arc;
use std::time::Duration;

use crate::plan::Writer;
use async_nats::jetstream::{self, message::PublishMessage};
use prost::Message;
use saga_contracts::orders::v1 as proto;
use service_kit::broker::{self, EVENTS_PREFIX};
use service_kit::db::Db;
use service_kit::faults::{CRASH_EXIT_CODE, Faults};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::outbox;

use self::faults::{Fate, Round};

mod faults;

/// Events published per round.
const BATCH: u32 = 256;
/// How long the broker may take to ack one round.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest pause after a failed round.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the relay looks for events it was not told about.
const POLL: Duration = Duration::from_millis(200);
/// The longest a running relay takes to publish an event again after a failed round:
/// the stream's duplicate window must exceed it for the server to drop the copy.
pub const REPUBLISH_BOUND: Duration =
    Duration::from_secs(ACK_TIMEOUT.as_secs() + MAX_BACKOFF.as_secs());

/// The outbox the relay reads (`db`) and marks (through `writer`, sharing commits with
/// the requests' writes instead of queueing for SQLite's write lock beside them), and
/// the faults it injects.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub db: Db,
    pub writer: Writer,
    pub faults: Arc<Faults>,
}

/// Relays the outbox to the broker at `url` until `shutdown`; `committed` wakes it when a
/// write commits an event.
pub async fn run(outbox: Outbox, url: String, committed: Arc<Notify>, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    let Some(context) = connect(&url, &shutdown).await else {
        return;
    };
    loop {
        let told = committed.notified();
        tokio::pin!(told);
        told.as_mut().enable();
        let pause = match round(&outbox, &context).await {
            Ok(sent) if sent >= BATCH as usize => Duration::ZERO,
            Ok(_) => {
                backoff = Duration::from_millis(100);
                POLL
            }
            Err(reason) => {
                tracing::warn!(%reason, retry_in_ms = backoff.as_millis(), "the outbox relay round failed");
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff
            }
        };
        if pause.is_zero() {
            continue;
        }
        tokio::select! {
            () = &mut told => {}
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Connects, retrying until the broker answers or `shutdown`; says in the log whether
/// the stream's duplicate window covers the relay's republishing.
async fn connect(url: &str, shutdown: &CancellationToken) -> Option<jetstream::Context> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match broker::connect(url).await {
            Ok((context, window)) => {
                if window > REPUBLISH_BOUND {
                    tracing::info!(%url, duplicate_window_s = window.as_secs(), republish_bound_s = REPUBLISH_BOUND.as_secs(), "outbox relay publishing; the stream drops what the relay publishes again");
                } else {
                    tracing::error!(%url, duplicate_window_s = window.as_secs(), republish_bound_s = REPUBLISH_BOUND.as_secs(), "the stream's duplicate window is shorter than the relay's republish bound: consumers may see an event twice");
                }
                return Some(context);
            }
            Err(error) => tracing::warn!(%error, "the outbox relay cannot reach the broker yet"),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(MAX_BACKOFF),
            () = shutdown.cancelled() => return None,
        }
    }
}

/// Publishes one batch of unpublished events and marks those the broker acked; answers
/// how many it read.
async fn round(outbox: &Outbox, context: &jetstream::Context) -> Result<usize, String> {
    let events = unpublished(&outbox.db)
        .await
        .map_err(|e| format!("cannot read the outbox: {e}"))?;
    let read = events.len();
    let round = Round::draw(&outbox.faults, events);
    round.log_faults();
    let acks = publish_all(context, &round).await?;
    let (acked, crash) = match await_acks(acks).await {
        Ok(acked) => acked,
        Err((acked, failed)) => {
            mark(&outbox.writer, acked)
                .await
                .map_err(|e| format!("{failed}; and cannot mark the acked ones: {e}"))?;
            return Err(failed);
        }
    };
    if crash {
        tracing::warn!("injected fault: crash after publishing, before marking");
        std::process::exit(CRASH_EXIT_CODE);
    }
    mark(&outbox.writer, acked)
        .await
        .map_err(|e| format!("cannot mark the events published: {e}"))?;
    match round.faulted() {
        true => Err("a fault injected in the round: it is published again".to_string()),
        false => Ok(read),
    }
}

/// An event sent, how it fares, and the broker's ack to come.
type Sent = (u64, Fate, jetstream::context::PublishAckFuture);

/// Sends the round's events in its order, a duplicated one twice.
async fn publish_all(context: &jetstream::Context, round: &Round) -> Result<Vec<Sent>, String> {
    let mut sent = Vec::with_capacity(round.publications.len());
    for (event, fate) in &round.publications {
        if let Fate::Held(by) = fate {
            tokio::time::sleep(*by).await;
        }
        let ack = publish(context, event, message_id(event)).await?;
        sent.push((event.event_id, *fate, ack));
        if *fate == Fate::Twice {
            let copy = format!("{}-copy-{}", message_id(event), uuid::Uuid::new_v4());
            tracing::warn!(event.id = event.event_id, "injected fault: duplicate");
            sent.push((event.event_id, *fate, publish(context, event, copy).await?));
        }
    }
    Ok(sent)
}

/// Waits for the acks in order: the events to mark published (a forgotten ack's left
/// out) and whether one of them asks for a crash; or, at the first failed ack, those
/// acked before it and why.
async fn await_acks(sent: Vec<Sent>) -> Result<(Vec<u64>, bool), (Vec<u64>, String)> {
    let mut acked: Vec<u64> = Vec::with_capacity(sent.len());
    let mut crash = false;
    for (event_id, fate, ack) in sent {
        match tokio::time::timeout(ACK_TIMEOUT, ack).await {
            Ok(Ok(_)) => {
                crash |= fate == Fate::CrashAfter;
                if fate != Fate::Forgotten && acked.last() != Some(&event_id) {
                    acked.push(event_id);
                }
            }
            Ok(Err(e)) => return Err((acked, format!("event {event_id}: {e}"))),
            Err(_) => return Err((acked, format!("event {event_id} was not acked in time"))),
        }
    }
    Ok((acked, crash))
}

/// Sends one event under `id`; answers the broker's ack to come.
async fn publish(
    context: &jetstream::Context,
    event: &proto::OrderEvent,
    id: String,
) -> Result<jetstream::context::PublishAckFuture, String> {
    let subject = broker::subject(EVENTS_PREFIX, &event.r#type);
    let message = PublishMessage::build()
        .payload(event.encode_to_vec().into())
        .message_id(id);
    context
        .send_publish(subject, message)
        .await
        .map_err(|e| format!("cannot publish event {}: {e}", event.event_id))
}

/// The id the server deduplicates on: unique per event of this database.
fn message_id(event: &proto::OrderEvent) -> String {
    format!("order-event-{}", event.event_id)
}

async fn unpublished(db: &Db) -> Result<Vec<proto::OrderEvent>, sqlx::Error> {
    let mut tx = db.begin_read().await?;
    let events = outbox::unpublished(&mut tx, BATCH).await?;
    tx.commit().await?;
    Ok(events)
}

async fn mark(writer: &Writer, acked: Vec<u64>) -> Result<(), sqlx::Error> {
    if acked.is_empty() {
        return Ok(());
    }
    let now_ms = service_kit::db::now_ms();
    writer
        .write(move |tx| {
            Box::pin(async move {
                for event_id in acked {
                    outbox::mark_published(&mut *tx, event_id, now_ms).await?;
                }
                Ok::<(), sqlx::Error>(())
            })
        })
        .await
}
