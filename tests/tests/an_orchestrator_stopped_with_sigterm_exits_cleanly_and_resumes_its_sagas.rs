//! SIGTERM stops the orchestrator cleanly (exit 0) even with sagas in flight; a new
//! process finishes them. At the end every service exits 0 on SIGTERM.

use std::time::Duration;

use anyhow::Result;
use saga_tests::requests::place_small_without_waiting;
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SAGAS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_stopped_with_sigterm_exits_cleanly_and_resumes_its_sagas() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let options = ClusterOptions::default().backend(backend).slow_calls(100);
    let mut cluster = Cluster::start(options).await?;
    place_small_without_waiting(&cluster.orchestrator(), SAGAS).await?;
    cluster
        .wait_for_a_saga_mid_way(Duration::from_secs(10))
        .await?;

    let stopped = cluster.terminate_orchestrator().await?;
    assert_eq!(stopped.code(), Some(0), "{stopped:?}");
    cluster.restart_orchestrator().await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(30))
        .await?;

    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.counts, Counts::all_completed(SAGAS));
    let exits: Vec<(&str, Option<i32>)> = cluster
        .stop()
        .await?
        .into_iter()
        .map(|(name, status)| (name, status.code()))
        .collect();
    assert_eq!(
        exits,
        vec![
            ("orchestrator", Some(0)),
            ("orders-svc", Some(0)),
            ("invoices-svc", Some(0))
        ]
    );
    Ok(())
}
