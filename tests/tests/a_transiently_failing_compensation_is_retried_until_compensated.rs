//! A compensation that fails transiently (CancelOrder answering UNAVAILABLE half the
//! time) is retried until it succeeds: every over-limit saga ends COMPENSATED.

use std::time::Duration;

use anyhow::Result;
use saga_contracts::saga::v1::{SagaStatus, StepOutcome};
use saga_tests::requests::{large_order, place_all};
use saga_tests::saga_log::count;
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SAGAS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transiently_failing_compensation_is_retried_until_compensated() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let options = ClusterOptions::default()
        .backend(backend)
        .orders_faults("CancelOrder:unavailable:0.5")
        .fault_seed(5)
        .max_invoice_cents(100_000);
    let cluster = Cluster::start(options).await?;

    let sagas = place_all(
        &cluster.orchestrator(),
        (0..SAGAS).map(large_order).collect(),
    )
    .await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(30))
        .await?;

    let statuses: Vec<SagaStatus> = sagas.iter().map(|s| s.status()).collect();
    assert_eq!(statuses, vec![SagaStatus::Compensated; SAGAS]);
    let summary = check_invariants(&cluster).await?;
    assert_eq!(
        summary.counts,
        Counts {
            sagas_compensated: SAGAS,
            orders_cancelled: SAGAS,
            ..Counts::default()
        }
    );
    assert!(
        count(&summary.sagas, "cancel_order", StepOutcome::RetryScheduled) > 0,
        "CancelOrder was retried"
    );
    Ok(())
}
