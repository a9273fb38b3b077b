//! Watching orders-svc for orders that stopped being PENDING: it pages through the
//! orders in change order, every few milliseconds, and notes when it first saw each one
//! CONFIRMED or CANCELLED (the moment its consistency became visible to a reader).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::orders::v1::{ListOrdersRequest, OrderCursor, OrderStatus};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// Pause between two polls that found nothing new.
const POLL: Duration = Duration::from_millis(5);
/// Orders read per poll.
const PAGE: u32 = 500;

/// When each order was first seen settled, and whether it was CONFIRMED.
type Seen = Arc<Mutex<HashMap<String, (Instant, bool)>>>;

/// A running watcher.
pub struct Watcher {
    seen: Seen,
    stop: CancellationToken,
    task: JoinHandle<Result<()>>,
}

impl Watcher {
    /// Watches the orders that change after `from_ms`.
    pub fn start(orders: OrdersClient<Channel>, from_ms: i64) -> Self {
        let seen = Seen::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(poll(orders, from_ms, seen.clone(), stop.clone()));
        Self { seen, stop, task }
    }

    /// When each order was first seen settled, and whether it was CONFIRMED.
    pub fn seen(&self) -> HashMap<String, (Instant, bool)> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether every one of `orders` was seen settled.
    pub fn saw_all<'a>(&self, orders: impl IntoIterator<Item = &'a String>) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        orders.into_iter().all(|order| seen.contains_key(order))
    }

    /// Stops watching; an error the watcher met is reported.
    pub async fn stop(self) -> Result<()> {
        self.stop.cancel();
        self.task.await?
    }
}

async fn poll(
    mut orders: OrdersClient<Channel>,
    from_ms: i64,
    seen: Seen,
    stop: CancellationToken,
) -> Result<()> {
    let mut cursor = OrderCursor {
        updated_at_ms: from_ms,
        order_id: String::new(),
    };
    while !stop.is_cancelled() {
        let request = ListOrdersRequest {
            page_size: PAGE,
            changed_after: Some(cursor.clone()),
            ..Default::default()
        };
        let page = orders.list_orders(request).await?.into_inner().orders;
        let now = Instant::now();
        if let Some(last) = page.last() {
            cursor = OrderCursor {
                updated_at_ms: last.updated_at_ms,
                order_id: last.order_id.clone(),
            };
        }
        {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            for order in page.iter().filter(|o| o.status() != OrderStatus::Pending) {
                let confirmed = order.status() == OrderStatus::Confirmed;
                seen.entry(order.order_id.clone())
                    .or_insert((now, confirmed));
            }
        }
        if page.len() < PAGE as usize {
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}
