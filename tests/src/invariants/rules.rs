//! The invariants as pure functions of what the services listed, so that the checker
//! itself is unit-tested without any process. Each finding is one readable sentence.

use std::collections::HashMap;

use saga_contracts::invoices::v1::{Invoice, InvoiceStatus};
use saga_contracts::orders::v1::{Order, OrderStatus};
use saga_contracts::saga::v1::{Saga, SagaStatus};

use super::log::log_violations;
use super::shape::Shapes;

/// Every violation of the cross-service invariants, as sentences (empty: all hold);
/// `shapes` holds the definition version each saga runs.
pub fn violations(
    sagas: &[Saga],
    shapes: &Shapes,
    orders: &[Order],
    invoices: &[Invoice],
) -> Vec<String> {
    let mut found = Vec::new();
    duplicates("saga", sagas.iter().map(|s| s.saga_id.as_str()), &mut found);
    duplicates(
        "order",
        orders.iter().map(|o| o.order_id.as_str()),
        &mut found,
    );
    duplicates(
        "invoice",
        invoices.iter().map(|i| i.invoice_id.as_str()),
        &mut found,
    );
    for saga in sagas {
        check_saga(saga, shapes, orders, invoices, &mut found);
    }
    for order in orders {
        check_order(order, sagas, invoices, &mut found);
    }
    for invoice in invoices {
        check_invoice(invoice, orders, &mut found);
    }
    found
}

/// ListSagas and GetSaga agree on each saga's status once all have ended.
pub fn listing_agrees(listed: &[Saga], full: &[Saga]) -> Vec<String> {
    listed
        .iter()
        .zip(full)
        .filter(|(l, f)| l.saga_id != f.saga_id || l.status != f.status)
        .map(|(l, f)| {
            format!(
                "ListSagas shows {} {}, GetSaga shows {} {}",
                l.saga_id,
                l.status().as_str_name(),
                f.saga_id,
                f.status().as_str_name()
            )
        })
        .collect()
}

fn duplicates<'a>(kind: &str, ids: impl Iterator<Item = &'a str>, found: &mut Vec<String>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        *seen.entry(id).or_default() += 1;
    }
    let mut repeated: Vec<_> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
    repeated.sort();
    for (id, n) in repeated {
        found.push(format!("{kind} id {id:?} is listed {n} times"));
    }
}

fn check_saga(
    saga: &Saga,
    shapes: &Shapes,
    orders: &[Order],
    invoices: &[Invoice],
    found: &mut Vec<String>,
) {
    let id = &saga.saga_id;
    match saga.status() {
        SagaStatus::Completed | SagaStatus::Compensated => {}
        SagaStatus::Failed => found.push(format!("saga {id} FAILED: {:?}", saga.error)),
        other => found.push(format!("saga {id} has not ended: {}", other.as_str_name())),
    }
    match shapes.of(saga) {
        Some(shape) => found.extend(log_violations(saga, shape)),
        None => found.push(format!(
            "saga {id} runs {} v{}, which the orchestrator does not know",
            saga.definition, saga.definition_version
        )),
    }
    let its_orders: Vec<&str> = orders
        .iter()
        .filter(|o| o.saga_id == *id)
        .map(|o| o.order_id.as_str())
        .collect();
    if its_orders.len() > 1 {
        found.push(format!(
            "saga {id} has {} orders: {its_orders:?}",
            its_orders.len()
        ));
    }
    let its_invoices: Vec<&str> = invoices
        .iter()
        .filter(|i| i.saga_id == *id)
        .map(|i| i.invoice_id.as_str())
        .collect();
    if its_invoices.len() > 1 {
        found.push(format!(
            "saga {id} has {} invoices: {its_invoices:?}",
            its_invoices.len()
        ));
    }
    match saga.status() {
        SagaStatus::Completed => check_completed(saga, orders, invoices, found),
        SagaStatus::Compensated => check_compensated(saga, orders, invoices, found),
        _ => {}
    }
}

fn check_completed(saga: &Saga, orders: &[Order], invoices: &[Invoice], found: &mut Vec<String>) {
    let id = &saga.saga_id;
    let Some(order) = orders.iter().find(|o| o.order_id == saga.order_id) else {
        found.push(format!(
            "COMPLETED saga {id} names order {:?}, which is not listed",
            saga.order_id
        ));
        return;
    };
    // An order placed directly has no saga of its own; the direct rules check which
    // saga confirmed it.
    let its_own = order.saga_id == *id || order.saga_id.is_empty();
    if order.status() != OrderStatus::Confirmed || !its_own {
        found.push(format!(
            "COMPLETED saga {id} has order {} {} of saga {}",
            order.order_id,
            order.status().as_str_name(),
            order.saga_id
        ));
    }
    // A saga of another definition than place-order need not state its total.
    if saga.total_cents != 0 && saga.total_cents != order.total_cents {
        found.push(format!(
            "COMPLETED saga {id} totals {} but its order totals {}",
            saga.total_cents, order.total_cents
        ));
    }
    match invoices.iter().find(|i| i.invoice_id == saga.invoice_id) {
        None => found.push(format!(
            "COMPLETED saga {id} names invoice {:?}, which is not listed",
            saga.invoice_id
        )),
        Some(invoice)
            if invoice.status() != InvoiceStatus::Issued
                || invoice.order_id != order.order_id
                || invoice.amount_cents != order.total_cents =>
        {
            found.push(format!(
                "COMPLETED saga {id} has invoice {} {} of {} cents for order {}, expected ISSUED of {} for {}",
                invoice.invoice_id,
                invoice.status().as_str_name(),
                invoice.amount_cents,
                invoice.order_id,
                order.total_cents,
                order.order_id
            ));
        }
        Some(_) => {}
    }
}

fn check_compensated(saga: &Saga, orders: &[Order], invoices: &[Invoice], found: &mut Vec<String>) {
    let id = &saga.saga_id;
    // An order placed directly outlives a saga that gave up on one of its versions: only
    // what the saga itself made is its to undo.
    let direct = orders
        .iter()
        .any(|o| o.order_id == saga.order_id && o.saga_id.is_empty());
    let ours = |saga_id: &str, order_id: &str| {
        saga_id == id || (!direct && !saga.order_id.is_empty() && order_id == saga.order_id)
    };
    for order in orders.iter().filter(|o| ours(&o.saga_id, &o.order_id)) {
        if order.status() != OrderStatus::Cancelled {
            found.push(format!(
                "COMPENSATED saga {id} has order {} {}",
                order.order_id,
                order.status().as_str_name()
            ));
        }
    }
    for invoice in invoices.iter().filter(|i| ours(&i.saga_id, &i.order_id)) {
        if invoice.status() == InvoiceStatus::Issued {
            found.push(format!(
                "COMPENSATED saga {id} has ISSUED invoice {}",
                invoice.invoice_id
            ));
        }
    }
}

fn check_order(order: &Order, sagas: &[Saga], invoices: &[Invoice], found: &mut Vec<String>) {
    let id = &order.order_id;
    let placed_directly = order.saga_id.is_empty();
    if !placed_directly && !sagas.iter().any(|s| s.saga_id == order.saga_id) {
        found.push(format!(
            "order {id} belongs to unknown saga {:?}",
            order.saga_id
        ));
    }
    let items_total = order.items.iter().try_fold(0i64, |sum, i| {
        i.unit_price_cents
            .checked_mul(i64::from(i.quantity))
            .and_then(|line| sum.checked_add(line))
    });
    if items_total != Some(order.total_cents) {
        found.push(format!(
            "order {id} totals {} but its items add up to {items_total:?}",
            order.total_cents
        ));
    }
    let issued: Vec<i64> = invoices
        .iter()
        .filter(|i| i.order_id == *id && i.status() == InvoiceStatus::Issued)
        .map(|i| i.amount_cents)
        .collect();
    match order.status() {
        OrderStatus::Confirmed if issued != [order.total_cents] => found.push(format!(
            "CONFIRMED order {id} has ISSUED invoices of {issued:?} cents, expected exactly one of {}",
            order.total_cents
        )),
        OrderStatus::Cancelled if !issued.is_empty() => found.push(format!(
            "CANCELLED order {id} has ISSUED invoices of {issued:?} cents"
        )),
        OrderStatus::Confirmed | OrderStatus::Cancelled => {}
        other => found.push(format!("order {id} is {}", other.as_str_name())),
    }
}

fn check_invoice(invoice: &Invoice, orders: &[Order], found: &mut Vec<String>) {
    let id = &invoice.invoice_id;
    if invoice.status() == InvoiceStatus::Unspecified {
        found.push(format!("invoice {id} has no status"));
    }
    match orders.iter().find(|o| o.order_id == invoice.order_id) {
        None => found.push(format!(
            "invoice {id} belongs to unknown order {:?}",
            invoice.order_id
        )),
        Some(order)
            if (order.saga_id != invoice.saga_id && !order.saga_id.is_empty())
                || order.customer_id != invoice.customer_id
                || order.currency != invoice.currency =>
        {
            found.push(format!(
                "invoice {id} (saga {}, customer {}, {}) does not match its order {} (saga {}, customer {}, {})",
                invoice.saga_id,
                invoice.customer_id,
                invoice.currency,
                order.order_id,
                order.saga_id,
                order.customer_id,
                order.currency
            ));
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests;
