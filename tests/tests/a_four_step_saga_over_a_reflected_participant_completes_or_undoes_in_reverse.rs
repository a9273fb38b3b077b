//! The four-step example definition (create order → reserve stock → create invoice →
//! confirm order) over `inventory-svc`, a participant the orchestrator knows only by
//! reflection, started with `StartSaga`: the happy path; a refused reservation cancels
//! the order and issues no invoice; an invoice over the limit releases the stock (with the
//! reservation id the `Reserve` answer gave) and cancels the order, in reverse order;
//! input that does not fit is refused naming the field, with nothing written.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use saga_contracts::orders::v1::{GetOrderRequest, OrderStatus};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::{SagaStatus, StepOutcome, StepPhase};
use saga_tests::binaries::bin_dir;
use saga_tests::process::ServiceProcess;
use saga_tests::saga_log::{line, step_lines};
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};
use serde_json::{Value, json};
use tonic::Code;

const ORDER_WITH_STOCK: &str = include_str!("../../definitions/examples/order-with-stock.json");
/// The invoices participant's limit in this test.
const MAX_INVOICE_CENTS: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_step_saga_over_a_reflected_participant_completes_or_undoes_in_reverse() -> Result<()>
{
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inventory = inventory(dir.path(), "").await?;
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .max_invoice_cents(MAX_INVOICE_CENTS)
            .orchestrator_arg(format!(
                "--participant=inventory.v1.Inventory={}",
                inventory.url()
            )),
    )
    .await?;
    let mut client = cluster.orchestrator();
    let definition = saga_definitions::file::from_json(ORDER_WITH_STOCK)?;
    client
        .register_definition(pb::RegisterDefinitionRequest {
            definition: Some(definition),
            validate_only: false,
        })
        .await?;
    use StepOutcome::{Failed, Started, Succeeded};
    use StepPhase::{Action, Compensation};

    let happy = start(&cluster, "happy", order(2, 500)).await?;
    assert_eq!(happy.status(), SagaStatus::Completed, "{happy:#?}");
    assert_eq!(
        (happy.definition.as_str(), happy.definition_version),
        ("order-with-stock", 1)
    );
    assert_eq!(
        statuses(&happy),
        ["succeeded", "succeeded", "succeeded", "succeeded"]
    );
    let output: Value = serde_json::from_str(&happy.output_json)?;
    let reservation = output["reservation_id"].as_str().unwrap_or_default();
    ensure!(!reservation.is_empty(), "output {output}");
    assert_eq!(
        order_status(&cluster, &happy).await?,
        OrderStatus::Confirmed
    );

    let refused = start(&cluster, "too-many", order(5_000, 1)).await?;
    assert_eq!(refused.status(), SagaStatus::Compensated, "{refused:#?}");
    assert_eq!(
        statuses(&refused),
        ["compensated", "failed", "pending", "pending"]
    );
    assert_eq!(
        step_lines(&refused),
        vec![
            line("create_order", Action, Started),
            line("create_order", Action, Succeeded),
            line("reserve_stock", Action, Started),
            line("reserve_stock", Action, Failed),
            line("cancel_order", Compensation, Started),
            line("cancel_order", Compensation, Succeeded),
        ]
    );
    assert_eq!(refused.invoice_id, "", "no invoice was issued");
    assert_eq!(
        order_status(&cluster, &refused).await?,
        OrderStatus::Cancelled
    );

    let over = start(&cluster, "over-limit", order(1, MAX_INVOICE_CENTS + 1)).await?;
    assert_eq!(over.status(), SagaStatus::Compensated, "{over:#?}");
    assert_eq!(
        statuses(&over),
        ["compensated", "compensated", "failed", "pending"]
    );
    assert_eq!(
        step_lines(&over)[4..],
        [
            line("create_invoice", Action, Started),
            line("create_invoice", Action, Failed),
            line("release", Compensation, Started),
            line("release", Compensation, Succeeded),
            line("cancel_order", Compensation, Started),
            line("cancel_order", Compensation, Succeeded),
        ]
    );
    let reserved: Value = serde_json::from_str(&over.steps[1].output_json)?;
    ensure!(
        reserved["reservation_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "the release had the reservation id: {reserved}"
    );
    assert_eq!(order_status(&cluster, &over).await?, OrderStatus::Cancelled);

    let before = cluster
        .wait_until_all_terminal(Duration::from_secs(5))
        .await?;
    let bad = json!({"customer_id": "c", "items": [{"sku": 7, "quantity": 1}], "currency": "EUR"});
    let refused = start_request(&cluster, "bad-input", &bad).await;
    let status = refused.expect_err("a sku of the wrong type");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    ensure!(
        status.message().contains("input.items[0].sku"),
        "the message names the field: {}",
        status.message()
    );
    let unknown = client
        .start_saga(pb::StartSagaRequest {
            definition: "no-such-saga".into(),
            input_json: order(1, 1).to_string(),
            ..Default::default()
        })
        .await
        .expect_err("an unknown definition");
    assert_eq!(unknown.code(), Code::NotFound);
    let after = cluster
        .wait_until_all_terminal(Duration::from_secs(5))
        .await?;
    assert_eq!(before.len(), after.len(), "refused starts wrote nothing");
    drop(inventory);
    Ok(())
}

/// `inventory-svc` on a SQLite file in `dir`, injecting `faults`.
async fn inventory(dir: &std::path::Path, faults: &str) -> Result<ServiceProcess> {
    let database = format!("sqlite://{}", dir.join("inventory.db").display());
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database,
        "--faults",
        faults,
    ]
    .map(String::from);
    ServiceProcess::spawn(
        "inventory-svc",
        &bin_dir()?.join("inventory-svc"),
        &args,
        &dir.join("inventory-svc.log"),
    )
    .await
    .context("build the workspace's binaries: cargo build --workspace")
}

/// One line of `quantity` × `unit_price_cents`.
fn order(quantity: u32, unit_price_cents: i64) -> Value {
    json!({
        "customer_id": "c-stock",
        "items": [{"sku": "beans", "quantity": quantity, "unit_price_cents": unit_price_cents}],
        "currency": "EUR",
    })
}

async fn start(cluster: &Cluster, key: &str, input: Value) -> Result<pb::Saga> {
    Ok(start_request(cluster, key, &input).await?)
}

async fn start_request(
    cluster: &Cluster,
    key: &str,
    input: &Value,
) -> Result<pb::Saga, tonic::Status> {
    let answer = cluster
        .orchestrator()
        .start_saga(pb::StartSagaRequest {
            definition: "order-with-stock".into(),
            version: 0,
            idempotency_key: key.into(),
            input_json: input.to_string(),
            wait_ms: 0,
        })
        .await?;
    answer
        .into_inner()
        .saga
        .ok_or_else(|| tonic::Status::internal("no saga in the answer"))
}

fn statuses(saga: &pb::Saga) -> Vec<&str> {
    saga.steps.iter().map(|s| s.status.as_str()).collect()
}

async fn order_status(cluster: &Cluster, saga: &pb::Saga) -> Result<OrderStatus> {
    let order = cluster
        .orders()
        .get_order(GetOrderRequest {
            order_id: saga.order_id.clone(),
        })
        .await?
        .into_inner();
    Ok(order.status())
}
