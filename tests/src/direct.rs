//! Orders placed at orders-svc directly, and the check that every order ended consistent
//! with its invoices, whichever pattern (a saga's own, events or the sync sweep)
//! invoiced it.

use std::collections::BTreeMap;

use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::invoices::v1::InvoiceStatus;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::orders::v1::{
    LineItem, OrderEvent, OrderStatus, PlaceOrderRequest, WatchOrderEventsRequest,
};
use tonic::transport::Channel;

use crate::Cluster;
use crate::listing::{all_invoices, all_orders};
use crate::poll::Check;
use crate::requests::CURRENCY;

/// A `PlaceOrder` at orders-svc of `quantity` × `unit_price_cents`, under `key`.
pub fn placed(key: &str, quantity: u32, unit_price_cents: i64) -> PlaceOrderRequest {
    PlaceOrderRequest {
        idempotency_key: key.to_string(),
        customer_id: format!("customer-{key}"),
        items: vec![LineItem {
            sku: "sku-direct".to_string(),
            quantity,
            unit_price_cents,
        }],
        currency: CURRENCY.to_string(),
    }
}

/// How long the outbox stream may stay silent before every event is taken as read.
const EVENTS_IDLE: Duration = Duration::from_secs(2);

/// Every event of orders-svc's outbox, as `WatchOrderEvents` streams them from the
/// start, once nothing changes any more (read until the stream stays silent).
pub async fn all_events(orders: &OrdersClient<Channel>) -> Result<Vec<OrderEvent>> {
    let request = WatchOrderEventsRequest { after_event_id: 0 };
    let mut stream = orders
        .clone()
        .watch_order_events(request)
        .await
        .context("cannot watch the order events")?
        .into_inner();
    let mut events = Vec::new();
    while let Ok(next) = tokio::time::timeout(EVENTS_IDLE, stream.message()).await {
        match next.context("the order events stream failed")? {
            Some(event) => events.push(event),
            None => break,
        }
    }
    Ok(events)
}

/// What the orders have come to once none is PENDING and each one is CONFIRMED with
/// exactly one ISSUED invoice of its total, or CANCELLED with none.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settled {
    pub confirmed: usize,
    pub cancelled: usize,
}

/// Done once no order is PENDING and every order agrees with its invoices: what they
/// came to. An order that keeps disagreeing times the caller's wait out, saying how.
pub async fn settled(cluster: &Cluster) -> Result<Check<Settled>> {
    let orders = all_orders(&cluster.orders()).await?;
    let pending = orders
        .iter()
        .filter(|o| o.status() == OrderStatus::Pending)
        .count();
    if pending > 0 {
        return Ok(Check::NotYet(format!(
            "{pending} of {} PENDING",
            orders.len()
        )));
    }
    let mut issued: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let invoices = all_invoices(&cluster.invoices()).await?;
    for invoice in invoices
        .iter()
        .filter(|i| i.status() == InvoiceStatus::Issued)
    {
        issued
            .entry(invoice.order_id.as_str())
            .or_default()
            .push(invoice.amount_cents);
    }
    let mut settled = Settled::default();
    let mut violations = Vec::new();
    for order in &orders {
        let amounts = issued
            .get(order.order_id.as_str())
            .cloned()
            .unwrap_or_default();
        let consistent = match order.status() {
            OrderStatus::Confirmed => {
                settled.confirmed += 1;
                amounts == [order.total_cents]
            }
            _ => {
                settled.cancelled += 1;
                amounts.is_empty()
            }
        };
        if !consistent {
            violations.push(format!(
                "order {} is {:?} at {} cents with ISSUED invoices {amounts:?}",
                order.order_id,
                order.status(),
                order.total_cents
            ));
        }
    }
    // A saga that lost its order to a newer version may still be voiding its invoice
    // when the newer one's saga confirms the order: only a lasting disagreement counts.
    if !violations.is_empty() {
        return Ok(Check::NotYet(format!("{violations:?}")));
    }
    Ok(Check::Done(settled))
}
