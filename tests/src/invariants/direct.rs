//! Orders placed at orders-svc directly (the event and sync patterns): what a client knows
//! of each key it placed, and the rules that its orders, their outbox events, the
//! invoice-order sagas and the invoices agree. Pure functions of what the services
//! listed, unit-tested without processes.

use std::collections::{BTreeMap, BTreeSet};

use saga_contracts::invoices::v1::{Invoice, InvoiceStatus};
use saga_contracts::orders::v1::{Order, OrderEvent, OrderStatus};
use saga_contracts::saga::v1::{Saga, SagaStatus};
use serde::Serialize;

/// The definition that invoices one version of an order placed directly.
pub const INVOICE_ORDER: &str = "invoice-order";

/// What a client does to its order right after placing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// `UpdateOrder` of its items at version 1.
    Update,
    /// `WithdrawOrder`.
    Withdraw,
}

/// What a client knows about one key it sent to orders-svc's `PlaceOrder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectPlacement {
    pub key: String,
    /// Every order id a `PlaceOrder` of this key was answered with.
    pub answered: BTreeSet<String>,
    /// The total the key asked for.
    pub total_cents: i64,
    /// Over the invoice limit: the order cannot be confirmed.
    pub over_limit: bool,
    /// The change the client made after the answer, if any...
    pub change: Option<Change>,
    /// ...acknowledged by orders-svc (not when refused, or never answered: the order may
    /// or may not have changed then)...
    pub changed: bool,
    /// With an update, the total it changes the order to (set before the first try).
    pub updated_total_cents: Option<i64>,
}

/// Every way the orders placed directly disagree with what their clients were told.
pub fn direct_placement_violations(
    placements: &[DirectPlacement],
    orders: &[Order],
) -> Vec<String> {
    let mut found = Vec::new();
    let mut by_key: BTreeMap<&str, Vec<&Order>> = BTreeMap::new();
    for order in orders.iter().filter(|o| o.saga_id.is_empty()) {
        by_key
            .entry(&order.idempotency_key)
            .or_default()
            .push(order);
    }
    for p in placements {
        let key = &p.key;
        let [order] = by_key
            .get(key.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default()
        else {
            let ids: Vec<&str> = by_key
                .get(key.as_str())
                .map(|os| os.iter().map(|o| o.order_id.as_str()).collect())
                .unwrap_or_default();
            found.push(format!("key {key:?} has {} orders: {ids:?}", ids.len()));
            continue;
        };
        let id = &order.order_id;
        if p.answered.iter().any(|a| a != id) {
            found.push(format!(
                "key {key:?} was answered with orders {:?} but orders-svc holds {id}",
                p.answered
            ));
        }
        let updated = p.changed && p.change == Some(Change::Update);
        let expected_total = match (updated, p.updated_total_cents) {
            (true, Some(total)) => total,
            _ => p.total_cents,
        };
        let may_total = [
            p.total_cents,
            p.updated_total_cents.unwrap_or(p.total_cents),
        ];
        if (updated && order.total_cents != expected_total)
            || !may_total.contains(&order.total_cents)
        {
            found.push(format!(
                "order {id} of key {key:?} totals {} cents; the client placed {} and updated it to {:?}",
                order.total_cents, p.total_cents, p.updated_total_cents
            ));
        }
        if updated && order.version < 2 {
            found.push(format!(
                "order {id} was updated but is at version {}",
                order.version
            ));
        }
        let withdrawn = p.changed && p.change == Some(Change::Withdraw);
        if withdrawn && order.status() != OrderStatus::Cancelled {
            found.push(format!(
                "order {id} was withdrawn but is {}",
                order.status().as_str_name()
            ));
        }
        if p.over_limit && order.status() == OrderStatus::Confirmed {
            found.push(format!(
                "order {id} is over the invoice limit but CONFIRMED"
            ));
        }
    }
    let sent: BTreeSet<&str> = placements.iter().map(|p| p.key.as_str()).collect();
    for (key, orders) in by_key.iter().filter(|(k, _)| !sent.contains(*k)) {
        let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
        found.push(format!(
            "orders {ids:?} hold key {key:?}, which was never sent"
        ));
    }
    found
}

/// Every way an order placed directly disagrees with its own outbox events: it has an
/// `order-created` at version 1 first, an `order-updated` for each later version in
/// turn, an `order-cancelled` last exactly when it is CANCELLED, and the last event is
/// at its version; no event belongs to an unknown order, and no id repeats.
pub fn outbox_violations(orders: &[Order], events: &[OrderEvent]) -> Vec<String> {
    let mut found = Vec::new();
    let mut ids = BTreeSet::new();
    let mut by_order: BTreeMap<&str, Vec<&OrderEvent>> = BTreeMap::new();
    for event in events {
        if !ids.insert(event.event_id) {
            found.push(format!("event id {} is streamed twice", event.event_id));
        }
        by_order.entry(&event.aggregate_id).or_default().push(event);
    }
    let direct: BTreeMap<&str, &Order> = orders
        .iter()
        .filter(|o| o.saga_id.is_empty())
        .map(|o| (o.order_id.as_str(), o))
        .collect();
    for (id, order) in &direct {
        let theirs = by_order.remove(id).unwrap_or_default();
        found.extend(history_violations(order, &theirs));
    }
    for (id, theirs) in by_order {
        found.push(format!(
            "{} events belong to unknown order {id:?}",
            theirs.len()
        ));
    }
    found
}

fn history_violations(order: &Order, events: &[&OrderEvent]) -> Vec<String> {
    let id = &order.order_id;
    let mut found = Vec::new();
    let kinds: Vec<(&str, u64)> = events
        .iter()
        .map(|e| (e.r#type.as_str(), e.order.as_ref().map_or(0, |o| o.version)))
        .collect();
    let mut expected = Vec::new();
    for version in 1..=order.version {
        let kind = if version == 1 {
            "order-created"
        } else {
            "order-updated"
        };
        expected.push((kind, version));
    }
    if order.status() == OrderStatus::Cancelled {
        expected.push(("order-cancelled", order.version));
    }
    if kinds != expected {
        found.push(format!(
            "order {id} ({} at version {}) has events {kinds:?}, expected {expected:?}",
            order.status().as_str_name(),
            order.version
        ));
    }
    found
}

/// Every way the invoice-order sagas and the invoices disagree with the orders placed
/// directly and their events. Each saga invoices an (order, version) an event announced
/// (none invented) under the key `invoice-order/<order>/v<version>`; with
/// `every_event_starts_one`, each created or updated event has its saga (none missed);
/// a CONFIRMED order was confirmed by exactly one COMPLETED saga, at its version, whose
/// invoice is its ISSUED one; and every invoice of such an order was issued by one of its
/// sagas.
pub fn invoicing_violations(
    orders: &[Order],
    events: &[OrderEvent],
    sagas: &[Saga],
    invoices: &[Invoice],
    every_event_starts_one: bool,
) -> Vec<String> {
    let mut found = Vec::new();
    let announced: BTreeSet<(&str, u64)> = events
        .iter()
        .filter(|e| e.r#type != "order-cancelled")
        .filter_map(|e| {
            e.order
                .as_ref()
                .map(|o| (e.aggregate_id.as_str(), o.version))
        })
        .collect();
    let mut invoicing: BTreeMap<(String, u64), Vec<&Saga>> = BTreeMap::new();
    for saga in sagas.iter().filter(|s| s.definition == INVOICE_ORDER) {
        match invoiced(saga) {
            Some((order_id, version)) => {
                let key = format!("{INVOICE_ORDER}/{order_id}/v{version}");
                if saga.idempotency_key != key {
                    found.push(format!(
                        "saga {} invoices {order_id} v{version} under key {:?}, expected {key:?}",
                        saga.saga_id, saga.idempotency_key
                    ));
                }
                if !announced.contains(&(order_id.as_str(), version)) {
                    found.push(format!(
                        "saga {} invoices {order_id} v{version}, which no event announced",
                        saga.saga_id
                    ));
                }
                invoicing.entry((order_id, version)).or_default().push(saga);
            }
            None => found.push(format!(
                "saga {} has no order and version in its input {:?}",
                saga.saga_id, saga.input_json
            )),
        }
    }
    for ((order_id, version), theirs) in invoicing.iter().filter(|(_, s)| s.len() > 1) {
        let ids: Vec<&str> = theirs.iter().map(|s| s.saga_id.as_str()).collect();
        found.push(format!(
            "{order_id} v{version} has {} sagas: {ids:?}",
            ids.len()
        ));
    }
    if every_event_starts_one {
        for (order_id, version) in &announced {
            if !invoicing.contains_key(&(order_id.to_string(), *version)) {
                found.push(format!(
                    "no saga invoices {order_id} v{version}, which an event announced"
                ));
            }
        }
    }
    for order in orders.iter().filter(|o| o.saga_id.is_empty()) {
        found.extend(confirmation_violations(order, &invoicing, invoices));
    }
    found
}

/// A CONFIRMED order placed directly was confirmed by one COMPLETED saga at its version,
/// whose invoice is its one ISSUED invoice; no saga completed for another version or for
/// an order left unconfirmed; each of its invoices was made by one of its sagas.
fn confirmation_violations(
    order: &Order,
    invoicing: &BTreeMap<(String, u64), Vec<&Saga>>,
    invoices: &[Invoice],
) -> Vec<String> {
    let id = &order.order_id;
    let mut found = Vec::new();
    let its_sagas: Vec<(u64, &Saga)> = invoicing
        .iter()
        .filter(|((order_id, _), _)| order_id == id)
        .flat_map(|((_, version), sagas)| sagas.iter().map(|s| (*version, *s)))
        .collect();
    let completed: Vec<(u64, &Saga)> = its_sagas
        .iter()
        .copied()
        .filter(|(_, s)| s.status() == SagaStatus::Completed)
        .collect();
    let confirmed = order.status() == OrderStatus::Confirmed;
    match completed.as_slice() {
        [] if confirmed => found.push(format!("CONFIRMED order {id} has no COMPLETED saga")),
        [] => {}
        [(version, saga)] if confirmed && *version == order.version => {
            let issued: Vec<&str> = invoices
                .iter()
                .filter(|i| i.order_id == *id && i.status() == InvoiceStatus::Issued)
                .map(|i| i.invoice_id.as_str())
                .collect();
            if issued != [saga.invoice_id.as_str()] {
                found.push(format!(
                    "order {id} was confirmed by saga {} with invoice {:?}, but its ISSUED invoices are {issued:?}",
                    saga.saga_id, saga.invoice_id
                ));
            }
        }
        more => {
            let ids: Vec<String> = more
                .iter()
                .map(|(v, s)| format!("{} (v{v})", s.saga_id))
                .collect();
            found.push(format!(
                "order {id} is {} at version {} with COMPLETED sagas {ids:?}",
                order.status().as_str_name(),
                order.version
            ));
        }
    }
    for invoice in invoices.iter().filter(|i| i.order_id == *id) {
        if !its_sagas.iter().any(|(_, s)| s.saga_id == invoice.saga_id) {
            found.push(format!(
                "invoice {} of order {id} was made by {:?}, none of the order's sagas",
                invoice.invoice_id, invoice.saga_id
            ));
        }
    }
    found
}

/// The order and version an invoice-order saga invoices, from its input.
fn invoiced(saga: &Saga) -> Option<(String, u64)> {
    let input: serde_json::Value = serde_json::from_str(&saga.input_json).ok()?;
    let order_id = input["order_id"].as_str()?.to_string();
    let version = input["version"]
        .as_u64()
        .or_else(|| input["version"].as_str().and_then(|v| v.parse().ok()))?;
    Some((order_id, version))
}

#[cfg(test)]
mod tests;
