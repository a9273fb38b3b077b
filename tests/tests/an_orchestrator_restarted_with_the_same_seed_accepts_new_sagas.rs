//! Regression, found by `saga-chaos --same-orchestrator-seed`: the orchestrator drew saga ids from its
//! `--seed`, so a process restarted with the same flags draws the ids its predecessor
//! already used, and PlaceOrder fails (UNAVAILABLE, "UNIQUE constraint failed:
//! sagas.saga_id" in the log) for every new saga until the draws pass the old ones.

use anyhow::Result;
use saga_contracts::saga::v1::SagaStatus;
use saga_tests::requests::{place, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, check_invariants, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_restarted_with_the_same_seed_accepts_new_sagas() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    // The harness passes the same `--seed` to every orchestrator process it starts.
    let mut cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let before = place(&cluster.orchestrator(), small_order(0)).await?;
    cluster.kill_orchestrator().await?;
    cluster.restart_orchestrator().await?;

    let after = place(&cluster.orchestrator(), small_order(1)).await?;

    assert_ne!(before.saga_id, after.saga_id);
    assert_eq!(
        (before.status(), after.status()),
        (SagaStatus::Completed, SagaStatus::Completed)
    );
    check_invariants(&cluster).await?;
    Ok(())
}
