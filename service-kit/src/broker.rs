//! The order events' broker, NATS JetStream, as orders-svc's relay and the orchestrator's
//! consumer both see it: one stream of the events, one of the dead letters, created by
//! whichever side comes first with the same settings.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// The stream of every order event.
pub const EVENTS_STREAM: &str = "ORDER_EVENTS";
/// An event's subject: this prefix and its type, e.g. `orders.events.order-created`.
pub const EVENTS_PREFIX: &str = "orders.events";
/// The stream of events a consumer gave up on.
pub const DEAD_LETTER_STREAM: &str = "ORDER_EVENTS_DEAD";
/// A dead letter's subject: this prefix and the event's type.
pub const DEAD_LETTER_PREFIX: &str = "orders.dead-letter";
/// How long the server remembers a `Nats-Msg-Id` to drop a re-published event.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Why the broker cannot be used (yet).
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot set up stream {stream}: {reason}")]
    Stream {
        stream: &'static str,
        reason: String,
    },
}

/// Connects to the server at `url` and makes sure both streams exist; answers the
/// JetStream context and the events stream's duplicate window as the server keeps it
/// (an existing stream keeps its own settings).
pub async fn connect(url: &str) -> Result<(jetstream::Context, Duration), BrokerError> {
    let client = async_nats::ConnectOptions::new()
        .name("saga")
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|e| BrokerError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let context = jetstream::new(client);
    let events = ensure(&context, EVENTS_STREAM, EVENTS_PREFIX).await?;
    ensure(&context, DEAD_LETTER_STREAM, DEAD_LETTER_PREFIX).await?;
    Ok((context, events))
}

/// The subject of an event of type `kind` under `prefix`.
pub fn subject(prefix: &str, kind: &str) -> String {
    format!("{prefix}.{kind}")
}

async fn ensure(
    context: &jetstream::Context,
    name: &'static str,
    prefix: &str,
) -> Result<Duration, BrokerError> {
    let config = stream::Config {
        name: name.to_string(),
        subjects: vec![format!("{prefix}.>")],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    let failed = |e: &dyn std::fmt::Display| BrokerError::Stream {
        stream: name,
        reason: e.to_string(),
    };
    let mut stream = context
        .get_or_create_stream(config)
        .await
        .map_err(|e| failed(&e))?;
    let info = stream.info().await.map_err(|e| failed(&e))?;
    Ok(info.config.duplicate_window)
}
