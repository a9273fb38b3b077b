//! UNAVAILABLE answers on every call the saga makes are retried with backoff: every saga
//! completes, and the logs show RETRY_SCHEDULED records for each step.

use std::time::Duration;

use anyhow::Result;
use saga_contracts::saga::v1::{SagaStatus, StepOutcome};
use saga_tests::requests::{place_all, small_order};
use saga_tests::saga_log::count;
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SAGAS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_on_every_step_are_retried_to_completion() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let options = ClusterOptions::default()
        .backend(backend)
        .orders_faults("CreateOrder:unavailable:0.3,ConfirmOrder:unavailable:0.3")
        .invoices_faults("CreateInvoice:unavailable:0.3")
        .fault_seed(11);
    let cluster = Cluster::start(options).await?;

    let sagas = place_all(
        &cluster.orchestrator(),
        (0..SAGAS).map(small_order).collect(),
    )
    .await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(30))
        .await?;

    let statuses: Vec<SagaStatus> = sagas.iter().map(|s| s.status()).collect();
    assert_eq!(statuses, vec![SagaStatus::Completed; SAGAS]);
    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.counts, Counts::all_completed(SAGAS));
    let retried: Vec<(&str, bool)> = ["create_order", "create_invoice", "confirm_order"]
        .into_iter()
        .map(|step| {
            (
                step,
                count(&summary.sagas, step, StepOutcome::RetryScheduled) > 0,
            )
        })
        .collect();
    assert_eq!(
        retried,
        vec![
            ("create_order", true),
            ("create_invoice", true),
            ("confirm_order", true)
        ]
    );
    Ok(())
}
