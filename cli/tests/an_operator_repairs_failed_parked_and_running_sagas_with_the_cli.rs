//! An operator finds, understands and repairs sagas with the `saga` CLI alone, against a
//! real stack whose participants refuse or fail calls on purpose (faults changed while
//! they run): a FAILED saga (its compensation refused) is resolved, or retried once the
//! participant is fixed; a parked saga (its confirmation keeps failing) is found by
//! `list --parked`, retried now and skipped with the answer the operator got by hand; a
//! RUNNING saga waiting for its retry is aborted (it compensates) or skipped; actions
//! that make no sense in a saga's state are refused (exit 1) naming the state, and a
//! repeated request id changes nothing. On PostgreSQL every action goes to a second
//! replica, which reaches the saga whichever replica drives it.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use saga_contracts::invoices::v1::CreateInvoiceRequest;
use saga_contracts::orders::v1::CancelOrderRequest;
use saga_contracts::saga::v1::PlaceOrderRequest;
use saga_tests::binaries::Binary;
use saga_tests::poll::{Check, eventually};
use saga_tests::process::ServiceProcess;
use saga_tests::requests::{large_order, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};
use serde_json::Value;

mod support;

use support::Operator;
use tonic::Code;

/// Longest wait for a saga to reach a state.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_repairs_failed_parked_and_running_sagas_with_the_cli() -> Result<()> {
    on_every_backend(repairs).await
}

async fn repairs(backend: Backend) -> Result<()> {
    let postgres = matches!(backend, Backend::Postgres { .. });
    let options = ClusterOptions::default()
        .backend(backend)
        .changeable_faults()
        .orders_faults("CancelOrder:refuse:1")
        .max_attempts(100_000)
        .retry_max_ms(50)
        .orchestrator_arg("--park-after-attempts")
        .orchestrator_arg("3")
        .orchestrator_arg("--parked-retry-ms")
        .orchestrator_arg("600000")
        .orchestrator_arg("--step-time-limit-ms")
        .orchestrator_arg("600000");
    let cluster = Cluster::start(options).await?;
    // On PostgreSQL the operator talks to a second replica sharing the saga log.
    let second: Option<ServiceProcess> = match postgres {
        true => Some(cluster.another_orchestrator("operators-replica").await?),
        false => None,
    };
    let url = match &second {
        Some(replica) => replica.url(),
        None => cluster.orchestrator_url().context("no orchestrator")?,
    };
    let op = Operator::new(&url);

    failed_sagas(&cluster, &op).await?;
    parked_and_compensating_sagas(&cluster, &op).await?;
    running_sagas(&cluster, &op).await?;
    Ok(())
}

/// Over-limit orders whose order cannot be cancelled end FAILED: one is resolved by
/// hand, the other retried, first while the participant still refuses, then once fixed.
async fn failed_sagas(cluster: &Cluster, op: &Operator) -> Result<()> {
    let first = place(cluster, large_order(1)).await?;
    let second = place(cluster, large_order(2)).await?;
    let failed = op.json(&["list", "--status", "failed"]).await?;
    ensure!(failed["counts"]["FAILED"] == "2", "{failed}");
    let timeline = op.text(&["show", &first]).await?;
    ensure!(
        timeline.contains("↩ create_order") && timeline.contains("injected fault: refused"),
        "{timeline}"
    );

    op.refused(&["abort", &first, "--reason", "undo"], "FAILED")
        .await?;
    let why = "a compensation cannot be skipped";
    op.refused(&["skip", &first, "create_order", "--reason", "x"], why)
        .await?;
    op.refused(
        &["skip", &first, "no_such_step", "--reason", "x"],
        "no_such_step",
    )
    .await?;
    op.refused(&["resolve", &first, "--reason", " "], "reason")
        .await?;

    let resolve = [
        "resolve",
        &second,
        "--reason",
        "cancelled by phone",
        "--request-id",
        "r-1",
    ];
    let resolved = op.json(&resolve).await?;
    ensure!(resolved["status"] == "SAGA_STATUS_RESOLVED", "{resolved}");
    let again = op.json(&resolve).await?;
    ensure!(
        again["log"].as_array().map(Vec::len) == resolved["log"].as_array().map(Vec::len),
        "the same request id wrote again: {again}"
    );
    let log = op.text(&["get", &second]).await?;
    ensure!(
        log.contains("resolved") && log.contains("by anonymous (request r-1): cancelled by phone"),
        "{log}"
    );
    op.refused(&["resolve", &second, "--reason", "twice"], "RESOLVED")
        .await?;

    // Retried while the participant still refuses: tried once more, FAILED again.
    op.json(&["retry", &first, "--reason", "one more go"])
        .await?;
    let refusals = |saga: &Value| count(saga, "create_order", "failed");
    wait_until(op, &first, "refused again", |s| {
        s["status"] == "SAGA_STATUS_FAILED" && refusals(s) == 2
    })
    .await?;
    // Fixed: the retry compensates it.
    cluster.set_faults(Binary::OrdersSvc, "")?;
    cancelling(cluster, None).await?;
    op.json(&["retry", &first, "--reason", "orders-svc fixed"])
        .await?;
    wait_until(op, &first, "compensated", |s| {
        s["status"] == "SAGA_STATUS_COMPENSATED"
    })
    .await?;
    Ok(())
}

/// A saga whose confirmation keeps failing is parked; one whose compensation keeps
/// failing stays COMPENSATING. Both are found, and only what makes sense is done.
async fn parked_and_compensating_sagas(cluster: &Cluster, op: &Operator) -> Result<()> {
    let faults = "ConfirmOrder:unavailable:1,CancelOrder:unavailable:1";
    cluster.set_faults(Binary::OrdersSvc, faults)?;
    cancelling(cluster, Some(Code::Unavailable)).await?;
    let parked = start(cluster, small_order(1)).await?;
    let compensating = start(cluster, large_order(3)).await?;
    wait_until(op, &parked, "parked", |s| s["parked"] == true).await?;
    let listed = op.json(&["list", "--parked"]).await?;
    let ids: Vec<&Value> = listed["sagas"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["saga_id"])
        .collect();
    ensure!(ids.iter().any(|id| **id == parked.as_str()), "{listed}");
    let shown = op.json(&["get", &parked]).await?;
    ensure!(shown["steps"][2]["next_attempt_at"].is_string(), "{shown}");

    op.refused(
        &["abort", &parked, "--reason", "undo"],
        "point of no return",
    )
    .await?;
    let before = count(&shown, "confirm_order", "parked");
    op.json(&["retry", &parked, "--reason", "now please"])
        .await?;
    wait_until(op, &parked, "tried again now", |s| {
        count(s, "confirm_order", "parked") > before
    })
    .await?;
    let skip = [
        "skip",
        &parked,
        "confirm_order",
        "--output-json",
        r#"{"status": "ORDER_STATUS_CONFIRMED"}"#,
        "--reason",
        "confirmed by hand",
    ];
    let skipped = op.json(&skip).await?;
    ensure!(skipped["status"] == "SAGA_STATUS_COMPLETED", "{skipped}");
    ensure!(
        count(&skipped, "confirm_order", "skipped") == 1,
        "{skipped}"
    );

    wait_until(op, &compensating, "compensating", |s| {
        s["status"] == "SAGA_STATUS_COMPENSATING" && count(s, "create_order", "retrying") > 0
    })
    .await?;
    let skip = ["skip", &compensating, "create_invoice", "--reason", "x"];
    op.refused(&skip, "COMPENSATING").await?;
    op.refused(
        &["abort", &compensating, "--reason", "x"],
        "already goes back",
    )
    .await?;
    op.refused(
        &["resolve", &compensating, "--reason", "x"],
        "only a FAILED saga",
    )
    .await?;
    // Parked at the slow pace: once orders-svc is back, the operator has it tried now.
    cluster.set_faults(Binary::OrdersSvc, "")?;
    cancelling(cluster, None).await?;
    op.json(&["retry", &compensating, "--reason", "orders-svc is back"])
        .await?;
    wait_until(op, &compensating, "compensated", |s| {
        s["status"] == "SAGA_STATUS_COMPENSATED"
    })
    .await?;
    Ok(())
}

/// Sagas waiting for the retry of their invoice: one is aborted and compensates, the
/// other goes on with the invoice the operator issued by hand.
async fn running_sagas(cluster: &Cluster, op: &Operator) -> Result<()> {
    cluster.set_faults(Binary::InvoicesSvc, "CreateInvoice:unavailable:1")?;
    invoicing(cluster, Some(Code::Unavailable)).await?;
    let aborted = start(cluster, small_order(2)).await?;
    let skipped = start(cluster, small_order(3)).await?;
    for saga in [&aborted, &skipped] {
        wait_until(op, saga, "retrying its invoice", |s| {
            count(s, "create_invoice", "retrying") > 0
        })
        .await?;
    }
    op.refused(&["resolve", &aborted, "--reason", "x"], "RUNNING")
        .await?;
    op.json(&["abort", &aborted, "--reason", "customer gave up"])
        .await?;
    let undone = wait_until(op, &aborted, "compensated", |s| {
        s["status"] == "SAGA_STATUS_COMPENSATED"
    })
    .await?;
    ensure!(
        undone["error"]
            .as_str()
            .is_some_and(|e| e.contains("aborted by anonymous")),
        "{undone}"
    );

    let invoice = r#"{"invoice_id": "inv-by-hand", "status": "INVOICE_STATUS_ISSUED"}"#;
    let skip = [
        "skip",
        &skipped,
        "create_invoice",
        "--output-json",
        invoice,
        "--reason",
        "issued by hand",
    ];
    op.json(&skip).await?;
    let done = wait_until(op, &skipped, "completed", |s| {
        s["status"] == "SAGA_STATUS_COMPLETED"
    })
    .await?;
    ensure!(done["invoice_id"] == "inv-by-hand", "{done}");
    cluster.set_faults(Binary::InvoicesSvc, "")?;
    Ok(())
}

/// Places `order` and waits for its saga to end; its id.
async fn place(cluster: &Cluster, order: PlaceOrderRequest) -> Result<String> {
    let placed = cluster
        .orchestrator()
        .place_order(order)
        .await?
        .into_inner();
    Ok(placed.saga.context("no saga")?.saga_id)
}

/// Places `order` without waiting for its saga; its id.
async fn start(cluster: &Cluster, order: PlaceOrderRequest) -> Result<String> {
    let order = PlaceOrderRequest {
        wait_ms: 1,
        ..order
    };
    place(cluster, order).await
}

/// Waits until `saga_id`, as `saga get` shows it, satisfies `condition`; the saga.
async fn wait_until(
    op: &Operator,
    saga_id: &str,
    what: &str,
    condition: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let condition = &condition;
    eventually(PATIENCE, what, || async move {
        let saga = op.json(&["get", saga_id]).await?;
        Ok(match condition(&saga) {
            true => Check::Done(saga),
            false => Check::NotYet(format!("{} {}", saga["status"], saga["steps"])),
        })
    })
    .await
}

/// How many calls of `step` ended with `outcome`.
fn count(saga: &Value, step: &str, outcome: &str) -> usize {
    let steps = saga["steps"].as_array().into_iter().flatten();
    steps
        .filter(|s| s["name"] == step)
        .flat_map(|s| s["calls"].as_array().into_iter().flatten())
        .filter(|c| c["outcome"] == outcome)
        .count()
}

/// Waits until orders-svc's faults are in force: a compensation of a saga it never saw
/// answers `code` (`None`: succeeds, leaving a tombstone).
async fn cancelling(cluster: &Cluster, code: Option<Code>) -> Result<()> {
    in_force("orders-svc's faults", code, |n| {
        let mut orders = cluster.orders();
        let probe = CancelOrderRequest {
            saga_id: format!("probe-cancel-{n}"),
            order_id: String::new(),
        };
        async move { orders.cancel_order(probe).await.map(|_| ()) }
    })
    .await
}

/// Waits until invoices-svc's faults are in force: an invoice for a saga it never saw
/// answers `code` (`None`: is issued).
async fn invoicing(cluster: &Cluster, code: Option<Code>) -> Result<()> {
    in_force("invoices-svc's faults", code, |n| {
        let mut invoices = cluster.invoices();
        let probe = CreateInvoiceRequest {
            saga_id: format!("probe-invoice-{n}"),
            order_id: format!("probe-order-{n}"),
            customer_id: "probe".into(),
            amount_cents: 1,
            currency: "EUR".into(),
        };
        async move { invoices.create_invoice(probe).await.map(|_| ()) }
    })
    .await
}

/// Calls `probe` (numbered, so that every call is new to the participant) until it
/// answers `code`.
async fn in_force<F, Fut>(what: &str, code: Option<Code>, mut probe: F) -> Result<()>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let mut n = 0;
    eventually(PATIENCE, what, || {
        n += 1;
        let answer = probe(n);
        async move {
            let answer = answer.await;
            Ok(
                match answer.as_ref().err().map(tonic::Status::code) == code {
                    true => Check::Done(()),
                    false => Check::NotYet(format!("{answer:?}")),
                },
            )
        }
    })
    .await
}
