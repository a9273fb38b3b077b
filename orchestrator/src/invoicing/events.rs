//! The event-driven pattern: orders-svc's outbox events, from its `WatchOrderEvents`
//! stream, each start the saga of the order version they announce. The feed's position
//! is the last event whose saga was durably accepted, so a consumer that stops (killed,
//! superseded, disconnected) resumes after it, and replays only events whose sagas exist.

use std::collections::VecDeque;
use std::time::Duration;

use saga_contracts::orders::v1 as orders;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Feed, Invoicing, StartError, pause};
use crate::metrics::ORDER_EVENTS;
use crate::store::StoreError;

/// The feed's name in the saga log.
const FEED: &str = "invoice-events";
/// Events handled between two saves of the position (one write per batch, not per event).
const SAVE_EVERY: u64 = 64;
/// Events handled at once.
const IN_FLIGHT: usize = 64;
/// Pause before reconnecting or retrying a start that may succeed later.
const RETRY: Duration = Duration::from_millis(200);

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("another process holds the feed")]
    Lost,
    #[error("the event stream failed: {0}")]
    Stream(#[from] tonic::Status),
    #[error("the event stream ended")]
    Ended,
    #[error("the feed cannot be saved")]
    Store(#[from] StoreError),
    #[error("an event's handler failed")]
    Handler,
    #[error("shutting down")]
    Shutdown,
}

/// Follows the events while this process holds the feed, until `shutdown`.
pub async fn run(invoicing: Invoicing, shutdown: CancellationToken) {
    let feed = invoicing.feed(FEED);
    while !shutdown.is_cancelled() {
        match feed.hold().await {
            Ok(Some(position)) => {
                let after = position.parse().unwrap_or(0);
                match follow(&invoicing, &feed, after, &shutdown).await {
                    Stop::Shutdown => return,
                    stop => {
                        tracing::warn!(feed = FEED, %stop, "stopped following the order events")
                    }
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(feed = FEED, %error, "cannot hold the feed"),
        }
        pause(&shutdown, feed.renew_every().min(RETRY * 5)).await;
    }
}

async fn follow(
    invoicing: &Invoicing,
    feed: &Feed,
    after: u64,
    shutdown: &CancellationToken,
) -> Stop {
    let request = orders::WatchOrderEventsRequest {
        after_event_id: after,
    };
    let mut stream = match invoicing.orders.clone().watch_order_events(request).await {
        Ok(stream) => stream.into_inner(),
        Err(status) => return Stop::Stream(status),
    };
    tracing::info!(feed = FEED, after, "following the order events");
    let (mut handled, mut saved) = (after, after);
    let mut renew = tokio::time::interval(feed.renew_every());
    // Events are handled side by side; the position moves past an event only once it
    // and every event before it are done.
    let mut in_flight: VecDeque<(u64, JoinHandle<Result<(), Stop>>)> = VecDeque::new();
    // The handlers still running when following stops give up with it.
    let handlers = shutdown.child_token();
    let _stop_handlers = handlers.clone().drop_guard();
    loop {
        let room = in_flight.len() < IN_FLIGHT;
        let front = async {
            match in_flight.front_mut() {
                Some((_, task)) => task.await,
                None => std::future::pending().await,
            }
        };
        let stop = tokio::select! {
            () = shutdown.cancelled() => Some(Stop::Shutdown),
            _ = renew.tick() => None,
            done = front => {
                let Some((event_id, _)) = in_flight.pop_front() else { continue };
                match done {
                    Ok(Ok(())) => {
                        handled = event_id;
                        if handled.saturating_sub(saved) < SAVE_EVERY && !in_flight.is_empty() {
                            continue;
                        }
                        None
                    }
                    Ok(Err(stop)) => Some(stop),
                    // Its task panicked: follow again from the position.
                    Err(_) => Some(Stop::Handler),
                }
            }
            message = stream.message(), if room => match message {
                Ok(Some(event)) => {
                    let (invoicing, shutdown) = (invoicing.clone(), handlers.clone());
                    let event_id = event.event_id;
                    let task = tokio::spawn(async move { handle(&invoicing, &event, &shutdown).await });
                    in_flight.push_back((event_id, task));
                    continue;
                }
                Ok(None) => Some(Stop::Ended),
                Err(status) => Some(Stop::Stream(status)),
            },
        };
        match feed.advance(&handled.to_string()).await {
            Ok(true) => saved = handled,
            Ok(false) => return Stop::Lost,
            Err(error) => return Stop::Store(error),
        }
        if let Some(stop) = stop {
            return stop;
        }
    }
}

/// Starts the saga an event calls for; retried while the engine cannot take it yet. An
/// event of no use is skipped: the stream has nowhere to put it aside.
async fn handle(
    invoicing: &Invoicing,
    event: &orders::OrderEvent,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    loop {
        match start_for(invoicing, event).await {
            Ok(()) => {
                let kind = event.r#type.clone();
                metrics::counter!(ORDER_EVENTS, "source" => "stream", "type" => kind).increment(1);
                return Ok(());
            }
            Err(StartError::Refused(reason)) => {
                tracing::warn!(event.id = event.event_id, %reason, "no saga for the event");
                return Ok(());
            }
            Err(StartError::NotNow(reason)) => {
                tracing::debug!(event.id = event.event_id, %reason, "the saga cannot start yet");
                if !pause(shutdown, RETRY).await {
                    return Err(Stop::Shutdown);
                }
            }
        }
    }
}

/// Starts (or finds) the saga an event calls for, once. A withdrawn order's invoice, if
/// any, is voided by the saga that issued it (its confirmation is refused), so
/// `order-cancelled` calls for none.
pub(super) async fn start_for(
    invoicing: &Invoicing,
    event: &orders::OrderEvent,
) -> Result<(), StartError> {
    match (event.r#type.as_str(), &event.order) {
        ("order-created" | "order-updated", Some(order)) => {
            invoicing.invoice(order).await.map(|_| ())
        }
        ("order-cancelled", _) => Ok(()),
        (kind, _) => Err(StartError::Refused(format!(
            "an event of type {kind:?} {} is of no use",
            if event.order.is_some() {
                "with its order"
            } else {
                "without its order"
            }
        ))),
    }
}
