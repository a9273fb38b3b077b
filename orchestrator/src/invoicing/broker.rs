//! The event-driven pattern over NATS JetStream: a durable pull consumer, shared by every
//! replica (the server hands each event to one at a time), starts the saga each event
//! announces. An event is acked (double ack: the server confirms it) only once its saga
//! is durably accepted, NAKed with a delay when the engine cannot take it yet, and a
//! poison event (undecodable, or of no use) is moved to the dead-letter stream after
//! [`MAX_DELIVERIES`] deliveries.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, message::PublishMessage};
use prost::Message;
use saga_contracts::orders::v1 as orders;
use service_kit::broker::{self, DEAD_LETTER_PREFIX, EVENTS_PREFIX, EVENTS_STREAM};
use tokio::sync::Semaphore;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

use super::events::start_for;
use super::{Invoicing, StartError, pause};
use crate::metrics::{DEAD_LETTERS, ORDER_EVENTS};

/// The consumer's durable name on the server.
pub const CONSUMER: &str = "orchestrator-invoicing";
/// Deliveries of a poison event before it is moved to the dead letters.
pub const MAX_DELIVERIES: i64 = 5;
/// Delay of a redelivery after a NAK.
const REDELIVER_AFTER: Duration = Duration::from_millis(500);
/// How long the server waits for an ack before delivering the event again.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Events handled at once.
const IN_FLIGHT: usize = 64;
/// Pause before reconnecting.
const RECONNECT: Duration = Duration::from_secs(1);

/// Consumes the order events from the broker at `url` until `shutdown`.
pub async fn run(invoicing: Invoicing, url: String, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(reason) = consume(&invoicing, &url, &shutdown).await {
            tracing::warn!(%url, %reason, "the order events consumer stopped; reconnecting");
        }
        pause(&shutdown, RECONNECT).await;
    }
}

async fn consume(
    invoicing: &Invoicing,
    url: &str,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let (context, _) = broker::connect(url).await.map_err(|e| e.to_string())?;
    let stream = context
        .get_stream(EVENTS_STREAM)
        .await
        .map_err(|e| format!("no stream {EVENTS_STREAM}: {e}"))?;
    let config = consumer::pull::Config {
        durable_name: Some(CONSUMER.to_string()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        filter_subject: format!("{EVENTS_PREFIX}.>"),
        max_ack_pending: i64::try_from(IN_FLIGHT * 4).unwrap_or(i64::MAX),
        ..Default::default()
    };
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(CONSUMER, config)
        .await
        .map_err(|e| format!("no consumer {CONSUMER}: {e}"))?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    tracing::info!(%url, consumer = CONSUMER, "consuming the order events");
    let room = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = shutdown.cancelled() => return Ok(()),
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Err(format!("the consumer failed: {e}")),
            None => return Err("the consumer's messages ended".to_string()),
        };
        let Ok(permit) = room.clone().acquire_owned().await else {
            return Ok(());
        };
        let (invoicing, context) = (invoicing.clone(), context.clone());
        tokio::spawn(async move {
            if let Err(error) = settle(&invoicing, &context, message).await {
                tracing::warn!(%error, "an order event was not acked; the server delivers it again");
            }
            drop(permit);
        });
    }
}

/// Starts the event's saga and acks, NAKs or dead-letters the event.
async fn settle(
    invoicing: &Invoicing,
    context: &jetstream::Context,
    message: jetstream::Message,
) -> Result<(), async_nats::Error> {
    let started = match orders::OrderEvent::decode(message.payload.clone()) {
        Ok(event) => start_for(invoicing, &event)
            .await
            .map_err(|e| (Some(event), e)),
        Err(e) => Err((None, StartError::Refused(format!("undecodable: {e}")))),
    };
    match started {
        Ok(()) => {
            let kind = message
                .subject
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_string();
            metrics::counter!(ORDER_EVENTS, "source" => "nats", "type" => kind).increment(1);
            message.double_ack().await
        }
        Err((_, StartError::NotNow(reason))) => {
            tracing::debug!(%reason, "the event's saga cannot start yet");
            message.ack_with(AckKind::Nak(Some(REDELIVER_AFTER))).await
        }
        Err((event, StartError::Refused(reason))) => {
            let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
            if delivered < MAX_DELIVERIES {
                return message.ack_with(AckKind::Nak(Some(REDELIVER_AFTER))).await;
            }
            dead_letter(context, &message, event.as_ref(), &reason).await?;
            message.double_ack_with(AckKind::Term).await
        }
    }
}

/// Moves a poison event to the dead-letter stream, with why and where it came from.
async fn dead_letter(
    context: &jetstream::Context,
    message: &jetstream::Message,
    event: Option<&orders::OrderEvent>,
    reason: &str,
) -> Result<(), async_nats::Error> {
    let sequence = message.info().map(|info| info.stream_sequence).unwrap_or(0);
    let kind = event.map_or("undecodable", |e| e.r#type.as_str());
    let kind = if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        "unknown"
    } else {
        kind
    };
    tracing::error!(stream.sequence = sequence, %reason, "order event moved to the dead letters");
    let letter = PublishMessage::build()
        .payload(message.payload.clone())
        .message_id(format!("dead-{sequence}"))
        .header("Saga-Dead-Reason", reason)
        .header("Saga-Original-Subject", message.subject.as_str());
    context
        .send_publish(broker::subject(DEAD_LETTER_PREFIX, kind), letter)
        .await?
        .await?;
    metrics::counter!(DEAD_LETTERS).increment(1);
    Ok(())
}
