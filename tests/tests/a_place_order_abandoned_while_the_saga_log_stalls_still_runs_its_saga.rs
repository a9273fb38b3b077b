//! A caller gives up on PlaceOrder (its deadline passes) while the saga log is stalled
//! (another writer holds a lock on it). The orchestrator's write of the new saga is
//! already queued and commits once the stall ends, so the saga exists: it must then be
//! driven to its end, like any saga accepted, and the caller's retry with the same key
//! must see it end.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use saga_contracts::saga::v1::{PlaceOrderRequest, SagaStatus};
use saga_tests::chaos::storage::StorageLock;
use saga_tests::requests::{place, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, check_invariants, on_every_backend};

/// The abandoned call's deadline, well inside the stall.
const IMPATIENT: Duration = Duration::from_millis(300);
/// How long the saga log stays locked (shorter than SQLite's busy timeout, so the
/// orchestrator's write waits instead of failing).
const STALL: Duration = Duration::from_millis(1_500);
/// Far more than the saga needs once the stall is over (it takes milliseconds).
const DEADLINE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_order_abandoned_while_the_saga_log_stalls_still_runs_its_saga() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let request = PlaceOrderRequest {
        wait_ms: 100,
        ..small_order(1)
    };
    // A first saga makes sure the schema exists before it is locked.
    place(&cluster.orchestrator(), small_order(0)).await?;

    let lock = StorageLock::take(cluster.orchestrator_database())
        .await?
        .context("the saga log could not be locked")?;
    let mut call = tonic::Request::new(request.clone());
    call.set_timeout(IMPATIENT);
    let abandoned = cluster.orchestrator().place_order(call).await;
    // The stall is a measured window, not a wait for a condition.
    tokio::time::sleep(STALL.saturating_sub(IMPATIENT)).await;
    lock.release().await?;
    ensure!(
        abandoned.is_err(),
        "the call was answered within the stall: {abandoned:?}"
    );

    let retried = place(&cluster.orchestrator(), request).await?;
    let ended = cluster.wait_until_all_terminal(DEADLINE).await;
    let status = |id: &str| -> Vec<String> {
        ended
            .iter()
            .flatten()
            .filter(|s| s.saga_id == id)
            .map(|s| s.status().as_str_name().to_string())
            .collect()
    };
    ensure!(
        status(&retried.saga_id) == [SagaStatus::Completed.as_str_name()],
        "the saga of the abandoned call ({}) did not end within {DEADLINE:?}: {:?}",
        retried.saga_id,
        ended.as_ref().err()
    );
    check_invariants(&cluster).await?;
    Ok(())
}
