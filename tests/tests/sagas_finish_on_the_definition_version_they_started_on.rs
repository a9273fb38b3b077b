//! Versions are pinned: sagas of v1 in flight when v2 is registered finish on v1 (the
//! output v1's template makes), across an orchestrator restart, while new sagas run v2.

use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::SagaStatus;
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend, stock};
use serde_json::{Value, json};

/// Each reservation takes this long, so that v1's sagas are still going when v2 comes.
const SLOW_RESERVE_MS: u64 = 1_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_finish_on_the_definition_version_they_started_on() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let faults = format!("Reserve:delay={SLOW_RESERVE_MS}:1");
    let inventory = stock::inventory(dir.path(), &dir.path().join("inventory.db"), &faults).await?;
    let mut cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .orchestrator_arg(stock::participant_arg(&inventory)),
    )
    .await?;
    let mut v1 = saga_definitions::file::from_json(stock::ORDER_WITH_STOCK)?;
    // The slow reservation has a call deadline of its own, beyond the orchestrator's.
    v1.steps[1].retry = Some(pb::RetryPolicy {
        call_timeout_ms: 10_000,
        ..Default::default()
    });
    // v2 differs in its output only: which version a saga ran shows in its output.
    let mut v2 = v1.clone();
    v2.output_template =
        json!({"order_id": "${steps.create_order.output.order_id}", "version": 2}).to_string();
    assert_eq!(stock::register(&cluster, &v1).await?, 1);

    let first = start(&cluster, "v1-a").await?;
    let second = start(&cluster, "v1-b").await?;
    assert_eq!(stock::register(&cluster, &v2).await?, 2);
    cluster.terminate_orchestrator().await?;
    cluster.restart_orchestrator().await?;
    let third = start(&cluster, "v2-a").await?;

    let ended = cluster
        .wait_until_all_terminal(Duration::from_secs(60))
        .await?;
    let by_id = |id: &str| ended.iter().find(|s| s.saga_id == id).cloned();
    for (saga, version) in [(&first, 1), (&second, 1), (&third, 2)] {
        let saga = by_id(&saga.saga_id).context("the saga is listed")?;
        assert_eq!(saga.status(), SagaStatus::Completed, "{saga:#?}");
        assert_eq!(saga.definition_version, version, "{}", saga.saga_id);
        let output: Value = serde_json::from_str(&saga.output_json)?;
        assert_eq!(
            output.get("version").is_some(),
            version == 2,
            "{}: {output}",
            saga.saga_id
        );
        assert_eq!(output.get("reservation_id").is_some(), version == 1);
    }
    drop(inventory);
    Ok(())
}

/// Starts a saga and answers at once, while it runs.
async fn start(cluster: &Cluster, key: &str) -> Result<pb::Saga> {
    let saga = stock::start(cluster, key, &stock::order(1, 250), 50).await?;
    assert_eq!(saga.status(), SagaStatus::Running, "still reserving");
    Ok(saga)
}
