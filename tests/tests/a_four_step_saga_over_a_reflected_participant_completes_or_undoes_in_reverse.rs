//! The four-step example definition (create order → reserve stock → create invoice →
//! confirm order) over `inventory-svc`, a participant the orchestrator knows only by
//! reflection, started with `StartSaga`: the happy path; a refused reservation cancels
//! the order and issues no invoice; an invoice over the limit releases the stock (with the
//! reservation id the `Reserve` answer gave) and cancels the order, in reverse order;
//! input that does not fit is refused naming the field, with nothing written.

use std::time::Duration;

use anyhow::{Result, ensure};
use saga_contracts::orders::v1::{GetOrderRequest, OrderStatus};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::{SagaStatus, StepOutcome, StepPhase};
use saga_tests::saga_log::{line, step_lines};
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend, stock};
use serde_json::{Value, json};
use tonic::Code;

/// The invoices participant's limit in this test.
const MAX_INVOICE_CENTS: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_step_saga_over_a_reflected_participant_completes_or_undoes_in_reverse() -> Result<()>
{
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inventory = stock::inventory(dir.path(), &dir.path().join("inventory.db"), "").await?;
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .max_invoice_cents(MAX_INVOICE_CENTS)
            .orchestrator_arg(stock::participant_arg(&inventory)),
    )
    .await?;
    let mut client = cluster.orchestrator();
    stock::register(
        &cluster,
        &saga_definitions::file::from_json(stock::ORDER_WITH_STOCK)?,
    )
    .await?;
    use StepOutcome::{Failed, Started, Succeeded};
    use StepPhase::{Action, Compensation};

    let happy = start(&cluster, "happy", stock::order(2, 500)).await?;
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

    let refused = start(&cluster, "too-many", stock::order(5_000, 1)).await?;
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

    let over = start(
        &cluster,
        "over-limit",
        stock::order(1, MAX_INVOICE_CENTS + 1),
    )
    .await?;
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
    let refused = stock::start(&cluster, "bad-input", &bad, 0).await;
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
            input_json: stock::order(1, 1).to_string(),
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

async fn start(cluster: &Cluster, key: &str, input: Value) -> Result<pb::Saga> {
    Ok(stock::start(cluster, key, &input, 0).await?)
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
