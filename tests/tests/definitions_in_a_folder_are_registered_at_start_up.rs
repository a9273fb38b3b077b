//! `--definitions DIR`: every `*.json` definition in the folder is registered at start-up
//! after the built-in one and can be started at once; a folder holding a definition with
//! a problem stops the start, naming the file and the location.

use anyhow::{Result, ensure};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::SagaStatus;
use saga_tests::binaries::Binary;
use saga_tests::{Backend, Cluster, ClusterOptions};
use serde_json::json;

/// An order that is confirmed at once: no invoice.
fn order_only(name: &str, confirm: &str) -> String {
    json!({
        "name": name,
        "steps": [
            {"name": "create_order", "action": "orders.v1.Orders/CreateOrder",
             "action_input": {"saga_id": "${saga.id}", "customer_id": "${input.customer}",
                              "items": "${input.items}", "currency": "EUR"},
             "compensation": "orders.v1.Orders/CancelOrder",
             "compensation_input": {"saga_id": "${saga.id}",
                                    "order_id": "${steps.create_order.output.order_id}"}},
            {"name": "confirm", "kind": "retriable", "action": confirm,
             "action_input": {"saga_id": "${saga.id}",
                              "order_id": "${steps.create_order.output.order_id}"}}
        ],
        "output": {"order_id": "${steps.create_order.output.order_id}"}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_in_a_folder_are_registered_at_start_up() -> Result<()> {
    let folder = tempfile::tempdir()?;
    std::fs::write(
        folder.path().join("order-only.json"),
        order_only("order-only", "orders.v1.Orders/ConfirmOrder"),
    )?;
    std::fs::write(folder.path().join("notes.txt"), "not a definition")?;
    let options = ClusterOptions::default()
        .backend(Backend::Sqlite)
        .orchestrator_arg(format!("--definitions={}", folder.path().display()));
    let cluster = Cluster::start(options).await?;
    let input =
        json!({"customer": "c1", "items": [{"sku": "s", "quantity": 1, "unit_price_cents": 5}]});
    let started = cluster
        .orchestrator()
        .start_saga(pb::StartSagaRequest {
            definition: "order-only".into(),
            input_json: input.to_string(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .saga
        .unwrap_or_default();
    assert_eq!(started.status(), SagaStatus::Completed, "{started:#?}");
    ensure!(!started.order_id.is_empty(), "{started:#?}");

    let bad = tempfile::tempdir()?;
    std::fs::write(
        bad.path().join("broken.json"),
        order_only("broken", "orders.v1.Orders/ConfirmEverything"),
    )?;
    let log = bad.path().join("orchestrator.db");
    let refused = tokio::process::Command::new(Binary::Orchestrator.path()?)
        .args(["--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", log.display()))
        .arg(format!("--definitions={}", bad.path().display()))
        .env("RUST_BACKTRACE", "0")
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success(),
        "a broken definition stops the start"
    );
    ensure!(
        stderr.contains("broken.json: steps[1].action"),
        "the error names the file and the location: {stderr}"
    );
    Ok(())
}
