//! Every kind of bad PlaceOrder input is INVALID_ARGUMENT with the offending field named,
//! and nothing is written anywhere: no saga, no order, no invoice.

use anyhow::Result;
use saga_contracts::saga::v1::PlaceOrderRequest;
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

    let summary = check_invariants(&cluster).await?;
    assert_eq!(
        (summary.sagas, summary.orders, summary.invoices),
        (vec![], vec![], vec![]),
        "nothing was written"
    );
    assert_eq!(summary.counts, Counts::default());
    Ok(())
}
