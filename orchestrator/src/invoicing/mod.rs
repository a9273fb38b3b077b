//! The invoice trigger: how orders placed directly at orders-svc get their invoices.
//! An event consumer (of NATS JetStream, [`broker`], or of orders-svc's own event stream,
//! [`events`]) or a sync sweep ([`sweep`]) finds each PENDING version of such an order
//! and starts the `invoice-order` saga for it, keyed by the order and its version, so a
//! redelivered event, a repeated page or both patterns at once start nothing new. The
//! broker tracks its consumer's progress itself; the stream consumer and the sweep each
//! follow a durable feed ([`feed`]) that one replica at a time holds.

mod broker;
mod events;
mod feed;
mod sweep;

use std::sync::Arc;
use std::time::Duration;

use saga_contracts::orders::v1 as orders;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::definitions::{DefinitionError, Definitions, INVOICE_ORDER_NAME};
use crate::engine::{Engine, EngineError, SagaStart};
use crate::store::FeedStore;

pub use feed::Feed;

/// How orders placed directly at orders-svc get their invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Trigger {
    /// Consume orders-svc's outbox events (its `WatchOrderEvents` stream).
    Events,
    /// Sweep orders-svc's changed orders from a durable watermark.
    Sync,
    /// Not at all: only `PlaceOrder` on the orchestrator invoices orders.
    Off,
}

/// What the trigger needs: where orders-svc is, how to start sagas, where feeds live.
#[derive(Clone)]
pub struct Invoicing {
    pub engine: Engine,
    pub definitions: Definitions,
    pub orders: orders::orders_client::OrdersClient<Channel>,
    pub feeds: Arc<dyn FeedStore>,
    /// The broker the event consumer reads (absent: orders-svc's own event stream).
    pub nats_url: Option<String>,
    /// Unique to this process: the feeds' holder.
    pub holder: String,
    pub lease: Duration,
    pub sync: SyncSettings,
}

/// The sweep's pace.
#[derive(Debug, Clone, Copy)]
pub struct SyncSettings {
    pub interval: Duration,
    pub page_size: u32,
}

/// Why a saga for an order could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Worth another try later: the engine is full or its log unreachable.
    #[error("not now: {0}")]
    NotNow(EngineError),
    /// This order will never start one (a bad input, a key taken otherwise).
    #[error("refused: {0}")]
    Refused(String),
}

impl Invoicing {
    /// Runs `trigger` until `shutdown`.
    pub fn spawn(self, trigger: Trigger, shutdown: CancellationToken) {
        match trigger {
            Trigger::Events => match self.nats_url.clone() {
                Some(url) => {
                    tokio::spawn(broker::run(self, url, shutdown));
                }
                None => {
                    tokio::spawn(events::run(self, shutdown));
                }
            },
            Trigger::Sync => {
                tokio::spawn(sweep::run(self, shutdown));
            }
            Trigger::Off => {}
        }
    }

    /// The feed `name`, as this process holds it.
    fn feed(&self, name: &'static str) -> Feed {
        Feed::new(name, self.feeds.clone(), self.holder.clone(), self.lease)
    }

    /// Starts (or finds) the saga that invoices this version of `order`, if it needs one;
    /// answers once it is durably accepted.
    async fn invoice(&self, order: &orders::Order) -> Result<Option<String>, StartError> {
        let Some(start) = self.saga_start(order).await? else {
            return Ok(None);
        };
        self.engine
            .accept(start)
            .await
            .map(Some)
            .map_err(StartError::from)
    }

    /// The start of the saga that invoices this version of `order`, if it needs one.
    async fn saga_start(&self, order: &orders::Order) -> Result<Option<SagaStart>, StartError> {
        let Some((key, input)) = plan(order) else {
            return Ok(None);
        };
        let runnable = self
            .definitions
            .latest_runnable(INVOICE_ORDER_NAME)
            .await
            .map_err(|e| match e {
                DefinitionError::Store(store) => StartError::NotNow(EngineError::Store(store)),
                other => StartError::Refused(other.to_string()),
            })?;
        SagaStart::checked(runnable, Some(key), input)
            .map(Some)
            .map_err(|problems| StartError::Refused(saga_definitions::describe(&problems)))
    }
}

impl From<EngineError> for StartError {
    fn from(error: EngineError) -> Self {
        match error {
            e @ EngineError::KeyReused { .. } => StartError::Refused(e.to_string()),
            e => StartError::NotNow(e),
        }
    }
}

/// Sleeps `pause`; false when `shutdown` came first.
async fn pause(shutdown: &CancellationToken, pause: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => true,
        () = shutdown.cancelled() => false,
    }
}

/// The key and input of the saga that invoices `order`, if it needs one: a PENDING order
/// placed directly, at its current version.
pub fn plan(order: &orders::Order) -> Option<(String, serde_json::Value)> {
    let placed_directly = order.saga_id.is_empty() && !order.idempotency_key.is_empty();
    if !placed_directly || order.status() != orders::OrderStatus::Pending {
        return None;
    }
    let key = format!("invoice-order/{}/v{}", order.order_id, order.version);
    let input = json!({ "order_id": order.order_id, "version": order.version });
    Some((key, input))
}

#[cfg(test)]
mod tests;
