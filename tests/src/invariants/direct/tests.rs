//! The direct rules on small hand-made listings: each rule finds what it must, and a
//! consistent history passes all of them.

use super::*;

fn order(id: &str, key: &str, status: OrderStatus, version: u64, total: i64) -> Order {
    Order {
        order_id: id.into(),
        idempotency_key: key.into(),
        status: status.into(),
        version,
        total_cents: total,
        ..Default::default()
    }
}

fn event(event_id: u64, order_id: &str, kind: &str, version: u64) -> OrderEvent {
    OrderEvent {
        event_id,
        aggregate_type: "order".into(),
        aggregate_id: order_id.into(),
        r#type: kind.into(),
        order: Some(Order {
            order_id: order_id.into(),
            version,
            ..Default::default()
        }),
        created_at_ms: 0,
    }
}

fn saga(id: &str, order_id: &str, version: u64, status: SagaStatus, invoice: &str) -> Saga {
    Saga {
        saga_id: id.into(),
        status: status.into(),
        definition: INVOICE_ORDER.into(),
        idempotency_key: format!("{INVOICE_ORDER}/{order_id}/v{version}"),
        input_json: serde_json::json!({"order_id": order_id, "version": version}).to_string(),
        invoice_id: invoice.into(),
        order_id: order_id.into(),
        ..Default::default()
    }
}

fn invoice(id: &str, order_id: &str, saga_id: &str, status: InvoiceStatus) -> Invoice {
    Invoice {
        invoice_id: id.into(),
        order_id: order_id.into(),
        saga_id: saga_id.into(),
        status: status.into(),
        ..Default::default()
    }
}

fn placement(key: &str, order_id: &str, total: i64) -> DirectPlacement {
    DirectPlacement {
        key: key.into(),
        answered: [order_id.to_string()].into(),
        total_cents: total,
        over_limit: false,
        change: None,
        changed: false,
        updated_total_cents: None,
    }
}

/// o1 updated to v2 and confirmed by its v2 saga (the v1 saga gave up, its invoice
/// voided); o2 withdrawn before any saga began.
fn consistent() -> (Vec<Order>, Vec<OrderEvent>, Vec<Saga>, Vec<Invoice>) {
    let orders = vec![
        order("o1", "k1", OrderStatus::Confirmed, 2, 300),
        order("o2", "k2", OrderStatus::Cancelled, 1, 100),
    ];
    let events = vec![
        event(1, "o1", "order-created", 1),
        event(2, "o2", "order-created", 1),
        event(3, "o1", "order-updated", 2),
        event(4, "o2", "order-cancelled", 1),
    ];
    let sagas = vec![
        saga("s1", "o1", 1, SagaStatus::Compensated, "i1"),
        saga("s2", "o1", 2, SagaStatus::Completed, "i2"),
        saga("s3", "o2", 1, SagaStatus::Compensated, ""),
    ];
    let invoices = vec![
        invoice("i1", "o1", "s1", InvoiceStatus::Voided),
        invoice("i2", "o1", "s2", InvoiceStatus::Issued),
    ];
    (orders, events, sagas, invoices)
}

#[test]
fn a_consistent_history_passes_every_rule() {
    let (orders, events, sagas, invoices) = consistent();
    assert_eq!(outbox_violations(&orders, &events), Vec::<String>::new());
    assert_eq!(
        invoicing_violations(&orders, &events, &sagas, &invoices, true),
        Vec::<String>::new()
    );
    let mut updated = placement("k1", "o1", 200);
    updated.change = Some(Change::Update);
    updated.changed = true;
    updated.updated_total_cents = Some(300);
    let mut withdrawn = placement("k2", "o2", 100);
    withdrawn.change = Some(Change::Withdraw);
    withdrawn.changed = true;
    assert_eq!(
        direct_placement_violations(&[updated, withdrawn], &orders),
        Vec::<String>::new()
    );
}

#[test]
fn a_missing_or_misplaced_event_is_found() {
    let (orders, mut events, _, _) = consistent();
    events.retain(|e| e.event_id != 4);
    events.push(event(5, "o9", "order-created", 1));
    events.push(event(3, "o1", "order-updated", 2));
    let found = outbox_violations(&orders, &events);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].contains("event id 3 is streamed twice"),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("order o2 (ORDER_STATUS_CANCELLED"))
    );
    assert!(found.iter().any(|f| f.contains("unknown order \"o9\"")));
}

#[test]
fn a_saga_without_its_event_or_an_event_without_its_saga_is_found() {
    let (orders, events, mut sagas, invoices) = consistent();
    sagas.push(saga("s4", "o2", 7, SagaStatus::Compensated, ""));
    sagas.retain(|s| s.saga_id != "s3");
    let found = invoicing_violations(&orders, &events, &sagas, &invoices, true);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("o2 v7, which no event announced"));
    assert!(found[1].contains("no saga invoices o2 v1"));
    // The sweep may skip a version that changed before it looked.
    let swept = invoicing_violations(&orders, &events, &sagas, &invoices, false);
    assert_eq!(swept.len(), 1, "{swept:#?}");
}

#[test]
fn a_confirmation_by_the_wrong_saga_or_a_second_issued_invoice_is_found() {
    let (orders, events, mut sagas, mut invoices) = consistent();
    sagas[0].status = SagaStatus::Completed.into();
    let found = invoicing_violations(&orders, &events, &sagas, &invoices, true);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("COMPLETED sagas"), "{found:#?}");

    let (_, _, sagas, _) = consistent();
    invoices[0].status = InvoiceStatus::Issued.into();
    invoices.push(invoice("i9", "o1", "s-other", InvoiceStatus::Voided));
    let found = invoicing_violations(&orders, &events, &sagas, &invoices, true);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("its ISSUED invoices are [\"i1\", \"i2\"]"));
    assert!(found[1].contains("none of the order's sagas"));
}

#[test]
fn a_lost_key_a_doubled_one_or_an_ignored_change_is_found() {
    let (orders, ..) = consistent();
    let mut withdrawn = placement("k1", "o1", 300);
    withdrawn.change = Some(Change::Withdraw);
    withdrawn.changed = true;
    let lost = placement("k3", "o3", 100);
    let mut doubled = orders.clone();
    doubled.push(order("o4", "k2", OrderStatus::Cancelled, 1, 100));
    let found = direct_placement_violations(&[withdrawn, lost], &doubled);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("order o1 was withdrawn but is ORDER_STATUS_CONFIRMED"));
    assert!(found[1].contains("key \"k3\" has 0 orders"));
    assert!(found[2].contains("hold key \"k2\", which was never sent"));

    let mut updated = placement("k1", "o1", 300);
    updated.change = Some(Change::Update);
    updated.changed = true;
    updated.updated_total_cents = Some(400);
    let found = direct_placement_violations(&[updated], &orders[..1]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("totals 300 cents"));
}
