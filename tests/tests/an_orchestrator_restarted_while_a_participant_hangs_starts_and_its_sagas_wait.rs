//! A participant that accepts connections but never answers (SIGSTOP) while the
//! orchestrator restarts: the start does not hang on its reflection, the definitions
//! folder naming it is found registered as it was (its version keeps the schemas it was
//! checked against), and a saga started meanwhile waits for the participant and
//! completes once it answers again.

use std::time::Duration;

use anyhow::{Result, ensure};
use nix::sys::signal::Signal;
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::SagaStatus;
use saga_tests::{Backend, Cluster, ClusterOptions, stock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_restarted_while_a_participant_hangs_starts_and_its_sagas_wait()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("definitions");
    std::fs::create_dir(&folder)?;
    std::fs::write(
        folder.join("order-with-stock.json"),
        stock::ORDER_WITH_STOCK,
    )?;
    let inventory = stock::inventory(dir.path(), &dir.path().join("inventory.db"), "").await?;
    let options = ClusterOptions::default()
        .backend(Backend::Sqlite)
        .orchestrator_arg(stock::participant_arg(&inventory))
        .orchestrator_arg(format!("--definitions={}", folder.display()));
    let mut cluster = Cluster::start(options).await?;
    let first = stock::start(&cluster, "before", &stock::order(1, 100), 0).await?;
    ensure!(first.status() == SagaStatus::Completed, "{first:#?}");

    inventory.signal(Signal::SIGSTOP)?;
    cluster.terminate_orchestrator().await?;
    cluster.restart_orchestrator().await?;
    let listed = cluster
        .orchestrator()
        .list_definitions(pb::ListDefinitionsRequest {})
        .await?
        .into_inner()
        .definitions;
    let versions: Vec<(String, u32)> = listed
        .iter()
        .map(|d| (d.definition.clone().unwrap_or_default().name, d.version))
        .collect();
    ensure!(
        versions.contains(&(stock::NAME.to_string(), first.definition_version)),
        "the folder's definition kept its version: {versions:?}"
    );
    let waiting = stock::start(&cluster, "while-paused", &stock::order(1, 100), 200).await?;
    ensure!(waiting.status() == SagaStatus::Running, "{waiting:#?}");

    inventory.signal(Signal::SIGCONT)?;
    let sagas = cluster
        .wait_until_all_terminal(Duration::from_secs(60))
        .await?;
    for saga in &sagas {
        ensure!(saga.status() == SagaStatus::Completed, "{saga:#?}");
    }
    ensure!(sagas.len() == 2, "{sagas:#?}");
    drop(inventory);
    Ok(())
}
