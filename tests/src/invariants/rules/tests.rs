//! The checker catches each kind of inconsistency and accepts a consistent state.

use saga_contracts::invoices::v1::{Invoice, InvoiceStatus};
use saga_contracts::orders::v1::{LineItem, Order, OrderStatus};
use saga_contracts::saga::v1::{Saga, SagaLogEntry, SagaStatus, StepOutcome, StepPhase};

use super::super::shape::Shapes;
use super::violations;

struct State {
    sagas: Vec<Saga>,
    orders: Vec<Order>,
    invoices: Vec<Invoice>,
}

fn saga(id: &str, status: SagaStatus, order_id: &str, invoice_id: &str) -> Saga {
    use StepOutcome::{Failed, Started, Succeeded};
    let steps: &[(&str, StepOutcome)] = match status {
        SagaStatus::Completed => &[
            ("saga", Started),
            ("create_order", Started),
            ("create_order", Succeeded),
            ("create_invoice", Started),
            ("create_invoice", Succeeded),
            ("confirm_order", Started),
            ("confirm_order", Succeeded),
            ("saga", Succeeded),
        ],
        _ => &[
            ("saga", Started),
            ("create_order", Started),
            ("create_order", Succeeded),
            ("create_invoice", Started),
            ("create_invoice", Failed),
            ("cancel_order", Started),
            ("cancel_order", Succeeded),
            ("saga", Failed),
        ],
    };
    let log = steps
        .iter()
        .zip(1..)
        .map(|((step, outcome), seq)| SagaLogEntry {
            seq,
            step: (*step).into(),
            phase: match *step {
                "saga" => StepPhase::Unspecified,
                "cancel_order" => StepPhase::Compensation,
                _ => StepPhase::Action,
            }
            .into(),
            outcome: (*outcome).into(),
            attempt: u32::from(*step != "saga"),
            writer: "orchestrator-1".into(),
            version: u64::from(seq),
            status: if seq == 8 {
                status
            } else {
                SagaStatus::Running
            }
            .into(),
            ..Default::default()
        })
        .collect();
    Saga {
        saga_id: id.into(),
        status: status.into(),
        order_id: order_id.into(),
        invoice_id: invoice_id.into(),
        log,
        definition: "place-order".into(),
        definition_version: 1,
        customer_id: "c".into(),
        total_cents: 500,
        currency: "EUR".into(),
        ..Default::default()
    }
}

fn order(id: &str, saga_id: &str, status: OrderStatus) -> Order {
    Order {
        order_id: id.into(),
        customer_id: "c".into(),
        items: vec![LineItem {
            sku: "s".into(),
            quantity: 2,
            unit_price_cents: 250,
        }],
        total_cents: 500,
        currency: "EUR".into(),
        status: status.into(),
        saga_id: saga_id.into(),
        version: 1,
        ..Default::default()
    }
}

fn invoice(id: &str, order_id: &str, saga_id: &str, status: InvoiceStatus) -> Invoice {
    Invoice {
        invoice_id: id.into(),
        order_id: order_id.into(),
        customer_id: "c".into(),
        amount_cents: 500,
        currency: "EUR".into(),
        status: status.into(),
        saga_id: saga_id.into(),
    }
}

/// One completed saga (o1, i1) and one compensated saga whose invoice was voided (o2, i2).
fn consistent() -> State {
    State {
        sagas: vec![
            saga("s1", SagaStatus::Completed, "o1", "i1"),
            saga("s2", SagaStatus::Compensated, "o2", ""),
        ],
        orders: vec![
            order("o1", "s1", OrderStatus::Confirmed),
            order("o2", "s2", OrderStatus::Cancelled),
        ],
        invoices: vec![
            invoice("i1", "o1", "s1", InvoiceStatus::Issued),
            invoice("i2", "o2", "s2", InvoiceStatus::Voided),
        ],
    }
}

fn check(state: &State) -> Vec<String> {
    violations(
        &state.sagas,
        &Shapes::place_order(),
        &state.orders,
        &state.invoices,
    )
}

#[test]
fn a_consistent_state_has_no_violations() {
    assert_eq!(check(&consistent()), Vec::<String>::new());
}

#[test]
fn every_kind_of_inconsistency_is_reported() {
    type Breakage = fn(&mut State);
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "running saga",
            |s| s.sagas[0].status = SagaStatus::Running.into(),
            "has not ended",
        ),
        (
            "failed saga",
            |s| s.sagas[1].status = SagaStatus::Failed.into(),
            "FAILED",
        ),
        ("log gap", |s| s.sagas[0].log[1].seq = 3, "log seqs"),
        (
            "pending order",
            |s| s.orders[1].status = OrderStatus::Pending.into(),
            "is ORDER_STATUS_PENDING",
        ),
        (
            "confirmed order without invoice",
            |s| s.invoices[0].status = InvoiceStatus::Voided.into(),
            "expected exactly one",
        ),
        (
            "second issued invoice",
            |s| {
                s.invoices
                    .push(invoice("i3", "o1", "s9", InvoiceStatus::Issued))
            },
            "expected exactly one",
        ),
        (
            "wrong amount",
            |s| s.invoices[0].amount_cents = 499,
            "expected exactly one",
        ),
        (
            "issued invoice of a compensated saga",
            |s| s.invoices[1].status = InvoiceStatus::Issued.into(),
            "COMPENSATED saga s2 has ISSUED",
        ),
        (
            "two orders for one saga",
            |s| s.orders.push(order("o3", "s1", OrderStatus::Cancelled)),
            "has 2 orders",
        ),
        (
            "invoice of an unknown order",
            |s| s.invoices[1].order_id = "o9".into(),
            "unknown order",
        ),
        (
            "order of an unknown saga",
            |s| s.orders[1].saga_id = "s9".into(),
            "unknown saga",
        ),
        (
            "completed saga names no order",
            |s| s.sagas[0].order_id = String::new(),
            "which is not listed",
        ),
        (
            "items do not add up",
            |s| s.orders[0].items[0].quantity = 3,
            "items add up",
        ),
    ];
    for (name, breakage, expected) in cases {
        let mut state = consistent();
        breakage(&mut state);
        let found = check(&state);
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{name}: expected a finding containing {expected:?}, got {found:?}"
        );
    }
}
