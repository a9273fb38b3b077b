//! A rolling restart: the orchestrator gets SIGTERM and its successor (same replica name,
//! same database) starts at once, while the old process still drains its in-flight
//! calls. The successor takes the sagas back at its start, which fences the old
//! process's last writes; the old process must then stop, not take them back in turn.
//! Regression: each fenced the other's resumes and the sagas stalled, still leased to
//! their (shared) name, until the next restart.

use std::time::Duration;

use anyhow::Result;
use saga_tests::requests::place_small_without_waiting;
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SAGAS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_restarted_while_its_predecessor_drains_finishes_every_saga() -> Result<()>
{
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    // Slow calls: the SIGTERM lands mid-call and the old process drains for a while.
    let options = ClusterOptions::default().backend(backend).slow_calls(300);
    let mut cluster = Cluster::start(options).await?;
    place_small_without_waiting(&cluster.orchestrator(), SAGAS).await?;
    cluster
        .wait_for_a_saga_mid_way(Duration::from_secs(10))
        .await?;

    let old = cluster.hand_over_orchestrator().await?;
    assert_eq!(old.code(), Some(0), "{old:?}");
    // Sagas stalled by the old bug stayed leased to the successor's name for ever.
    cluster
        .wait_until_all_terminal(Duration::from_secs(20))
        .await?;

    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.counts, Counts::all_completed(SAGAS));
    cluster.stop().await?;
    Ok(())
}
