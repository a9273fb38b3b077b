//! Every kind of bad PlaceOrder input is INVALID_ARGUMENT with the offending field named,
//! and nothing is written anywhere: no saga, no order, no invoice. Ids and keys holding
//! control characters are bad input too (they would forge log lines), at the orchestrator
//! and at orders-svc's own PlaceOrder alike.

use anyhow::Result;
use saga_contracts::orders::v1 as orders;
use saga_contracts::saga::v1::PlaceOrderRequest;
use saga_tests::direct::placed;
use saga_tests::requests::{item, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};
use tonic::Code;

/// A valid request changed by `edit`, and the field the refusal must name.
struct Case {
    name: &'static str,
    edit: fn(&mut PlaceOrderRequest),
    field: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "empty customer",
            edit: |r| r.customer_id.clear(),
            field: "customer_id",
        },
        Case {
            name: "no items",
            edit: |r| r.items.clear(),
            field: "items",
        },
        Case {
            name: "quantity 0",
            edit: |r| r.items[0].quantity = 0,
            field: "items[0].quantity",
        },
        Case {
            name: "quantity 0 in the second item",
            edit: |r| r.items[1].quantity = 0,
            field: "items[1].quantity",
        },
        Case {
            name: "price 0",
            edit: |r| r.items[0].unit_price_cents = 0,
            field: "items[0].unit_price_cents",
        },
        Case {
            name: "negative price",
            edit: |r| r.items[0].unit_price_cents = -100,
            field: "items[0].unit_price_cents",
        },
        Case {
            name: "a line total that overflows",
            edit: |r| r.items = vec![item("a", 2, i64::MAX)],
            field: "items",
        },
        Case {
            name: "a sum that overflows",
            edit: |r| r.items = vec![item("a", 1, i64::MAX), item("b", 1, 1)],
            field: "items",
        },
        Case {
            name: "empty currency",
            edit: |r| r.currency.clear(),
            field: "currency",
        },
        Case {
            name: "lower-case currency",
            edit: |r| r.currency = "eur".into(),
            field: "currency",
        },
        Case {
            name: "two-letter currency",
            edit: |r| r.currency = "EU".into(),
            field: "currency",
        },
        Case {
            name: "four-letter currency",
            edit: |r| r.currency = "EURO".into(),
            field: "currency",
        },
        Case {
            name: "currency with a digit",
            edit: |r| r.currency = "E1R".into(),
            field: "currency",
        },
        Case {
            name: "129-byte key",
            edit: |r| r.idempotency_key = "k".repeat(129),
            field: "idempotency_key",
        },
        Case {
            name: "65 two-byte characters key",
            edit: |r| r.idempotency_key = "é".repeat(65),
            field: "idempotency_key",
        },
        Case {
            name: "a key with a line break",
            edit: |r| r.idempotency_key = "key\nINFO forged log line".into(),
            field: "idempotency_key",
        },
        Case {
            name: "a customer with a terminal escape",
            edit: |r| r.customer_id = "bob\u{1b}[2J".into(),
            field: "customer_id",
        },
        Case {
            name: "a SKU with a NUL",
            edit: |r| r.items[1].sku = "pear\0".into(),
            field: "items[1].sku",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let mut outcomes = Vec::new();
    let mut expected = Vec::new();
    for case in cases() {
        let mut request = small_order(0);
        (case.edit)(&mut request);
        let outcome = match cluster.orchestrator().place_order(request).await {
            Ok(answer) => (case.name, Code::Ok, format!("{:?}", answer.into_inner())),
            Err(status) if status.message().contains(case.field) => {
                (case.name, status.code(), format!("names {}", case.field))
            }
            Err(status) => (case.name, status.code(), status.message().to_string()),
        };
        outcomes.push(outcome);
        expected.push((
            case.name,
            Code::InvalidArgument,
            format!("names {}", case.field),
        ));
    }
    assert_eq!(outcomes, expected);
    participants_refuse_control_characters(&cluster).await?;

    let summary = check_invariants(&cluster).await?;
    assert_eq!(
        (summary.sagas, summary.orders, summary.invoices),
        (vec![], vec![], vec![]),
        "nothing was written"
    );
    assert_eq!(summary.counts, Counts::default());
    Ok(())
}

/// A change that spoils a request.
type Edit = fn(&mut orders::PlaceOrderRequest);

/// orders-svc refuses ids and keys with control characters in its own PlaceOrder and in
/// the saga's calls, naming the field.
async fn participants_refuse_control_characters(cluster: &Cluster) -> Result<()> {
    let mut orders = cluster.orders();
    let edits: [(&str, Edit); 3] = [
        ("idempotency_key", |r| r.idempotency_key.push('\n')),
        ("customer_id", |r| r.customer_id.push('\u{7}')),
        ("items[0].sku", |r| r.items[0].sku.push('\r')),
    ];
    for (field, edit) in edits {
        let mut request = placed("direct-bad", 1, 100);
        edit(&mut request);
        let refused = orders.place_order(request).await.map(|_| ());
        let seen = refused.map_err(|s| (s.code(), s.message().contains(field)));
        assert_eq!(seen, Err((Code::InvalidArgument, true)), "{field}");
    }
    let create = orders::CreateOrderRequest {
        saga_id: "saga\u{1b}[31m".into(),
        customer_id: "c".into(),
        items: vec![orders::LineItem {
            sku: "s".into(),
            quantity: 1,
            unit_price_cents: 1,
        }],
        currency: "EUR".into(),
    };
    let refused = orders.create_order(create).await.map(|_| ());
    let seen = refused.map_err(|s| (s.code(), s.message().contains("saga_id")));
    assert_eq!(seen, Err((Code::InvalidArgument, true)));
    Ok(())
}
