//! The clients of a direct pattern: `PlaceOrder` at orders-svc (retried by the caller
//! with the same key, like the orchestrator's), then for some orders a change right
//! after the answer, racing the invoicing: `UpdateOrder` of their items (the new version
//! must be the one invoiced) or `WithdrawOrder` (the order must end CANCELLED without an
//! invoice). A change is retried while it fails in transit; FAILED_PRECONDITION means
//! it came too late (invoicing confirmed or cancelled the order first), or that an
//! earlier try already did it.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use saga_contracts::orders::v1 as orders;
use saga_contracts::saga::v1::PlaceOrderRequest;
use serde::Serialize;
use tokio::time::Instant;
use tonic::Code;

use super::{Drawn, Load, RETRY_PAUSE_MS, is_transient};
use crate::chaos::plan::derive;
use crate::invariants::direct::Change;

/// Tries of one change at most.
const MAX_CHANGE_CALLS: u32 = 1_000;

/// What the clients' changes came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChangeFigures {
    /// Updates orders-svc acknowledged...
    pub updated: u64,
    /// ...and refused as too late (or already done by a try whose answer was lost).
    pub updates_too_late: u64,
    pub withdrawn: u64,
    pub withdrawals_too_late: u64,
}

impl Load {
    /// `PlaceOrder` at orders-svc of the same order; answers its id.
    pub(super) async fn place_at_orders(
        &self,
        request: &PlaceOrderRequest,
    ) -> Result<String, tonic::Status> {
        let mut call = tonic::Request::new(orders::PlaceOrderRequest {
            idempotency_key: request.idempotency_key.clone(),
            customer_id: request.customer_id.clone(),
            items: request.items.iter().map(line).collect(),
            currency: request.currency.clone(),
        });
        call.set_timeout(self.settings.call_timeout);
        let order = self.orders.clone().place_order(call).await?.into_inner();
        Ok(order.order_id)
    }

    /// Makes `change` to the order `order_id` of key `n`, until answered or `give_up`.
    pub(super) async fn change(
        &self,
        n: usize,
        order_id: String,
        change: Change,
        drawn: &Drawn,
        give_up: Instant,
    ) {
        let updated_items = with_one_more(&drawn.request);
        let updated_total: i64 = updated_items
            .iter()
            .map(|i| i.unit_price_cents * i64::from(i.quantity))
            .sum();
        if change == Change::Update {
            // Before the first try: a try whose answer is lost may have made it.
            self.with(|l| {
                if let Some(p) = l.direct.get_mut(&n) {
                    p.updated_total_cents = Some(updated_total);
                }
            });
        }
        let mut jitter = StdRng::seed_from_u64(derive(self.settings.load_seed, &[n as u64, 2]));
        for attempt in 1..=MAX_CHANGE_CALLS {
            if attempt > 1 && Instant::now() >= give_up {
                break;
            }
            let answer = match change {
                Change::Update => self.update(&order_id, updated_items.clone()).await,
                Change::Withdraw => self.withdraw(&order_id).await,
            };
            let done = match answer {
                Ok(()) => true,
                Err(status) if status.code() == Code::FailedPrecondition => false,
                Err(status) if is_transient(&status) => {
                    let (low, high) = RETRY_PAUSE_MS;
                    let pause = jitter.random_range(low..=high) * u64::from(attempt.min(8));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    continue;
                }
                Err(status) => {
                    self.odd(format!(
                        "{change:?} of order {order_id} answered {:?}: {}",
                        status.code(),
                        status.message()
                    ));
                    return;
                }
            };
            self.with(|l| {
                let figures = &mut l.figures.changes;
                match (change, done) {
                    (Change::Update, true) => figures.updated += 1,
                    (Change::Update, false) => figures.updates_too_late += 1,
                    (Change::Withdraw, true) => figures.withdrawn += 1,
                    (Change::Withdraw, false) => figures.withdrawals_too_late += 1,
                }
                if let (true, Some(p)) = (done, l.direct.get_mut(&n)) {
                    p.changed = true;
                }
            });
            return;
        }
        self.odd(format!("{change:?} of order {order_id} was never answered"));
    }

    async fn update(
        &self,
        order_id: &str,
        items: Vec<orders::LineItem>,
    ) -> Result<(), tonic::Status> {
        let mut call = tonic::Request::new(orders::UpdateOrderRequest {
            order_id: order_id.to_string(),
            items,
            version: 1,
        });
        call.set_timeout(self.settings.call_timeout);
        self.orders.clone().update_order(call).await.map(|_| ())
    }

    async fn withdraw(&self, order_id: &str) -> Result<(), tonic::Status> {
        let mut call = tonic::Request::new(orders::WithdrawOrderRequest {
            order_id: order_id.to_string(),
        });
        call.set_timeout(self.settings.call_timeout);
        self.orders.clone().withdraw_order(call).await.map(|_| ())
    }
}

fn line(item: &saga_contracts::saga::v1::LineItem) -> orders::LineItem {
    orders::LineItem {
        sku: item.sku.clone(),
        quantity: item.quantity,
        unit_price_cents: item.unit_price_cents,
    }
}

/// The order's items with one more unit on the first line: a new total, on the same
/// side of the invoice limit (a line costs at most a sixteenth of it, or it is over).
fn with_one_more(request: &PlaceOrderRequest) -> Vec<orders::LineItem> {
    let mut items: Vec<orders::LineItem> = request.items.iter().map(line).collect();
    if let Some(first) = items.first_mut() {
        first.quantity += 1;
    }
    items
}
