//! Upgrading: the databases of a stack of the release before sagas were data (commit
//! `bca9f70`), its orchestrator SIGKILLed with sagas in flight in every state
//! (`tests/fixtures/upgrade-from-bca9f70`, made by `scripts/make-upgrade-fixture.sh`).
//! The current orchestrator started on them migrates the log, reads every old state as
//! the generic machine's, and finishes every saga with the cross-service invariants
//! holding; each keeps its saga log's records and runs place-order version 1.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use saga_contracts::saga::v1::SagaStatus;
use saga_tests::{Backend, Cluster, ClusterOptions, check_invariants, on_every_backend};

/// Sagas in the fixture; every one was accepted by the earlier release.
const SAGAS: usize = 40;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade-from-bca9f70")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_upgraded_on_the_previous_releases_log_finishes_every_saga() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    // The fixture's stack refused invoices over 1,000 € and gave up on a step after two
    // attempts; the same settings here.
    let options = ClusterOptions::default()
        .backend(backend)
        .databases_from(fixture())
        .max_invoice_cents(100_000)
        .max_attempts(2);
    let cluster = Cluster::start(options).await?;
    let before = cluster.wait_for_sagas(Duration::from_secs(5), "the old sagas listed", |s| {
        s.len() == SAGAS
    });
    let listed = before.await?;
    let unfinished = listed
        .iter()
        .filter(|s| !saga_tests::cluster::is_terminal(s.status()))
        .count();
    assert!(unfinished > 0, "the fixture holds sagas in flight");

    cluster
        .wait_until_all_terminal(Duration::from_secs(60))
        .await?;
    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.sagas.len(), SAGAS);
    for saga in &summary.sagas {
        assert_eq!(
            (saga.definition.as_str(), saga.definition_version),
            ("place-order", 1),
            "{}",
            saga.saga_id
        );
        assert!(
            matches!(
                saga.status(),
                SagaStatus::Completed | SagaStatus::Compensated
            ),
            "{saga:#?}"
        );
        if saga.status() == SagaStatus::Completed {
            assert!(
                !saga.order_id.is_empty() && !saga.invoice_id.is_empty(),
                "{saga:#?}"
            );
        }
    }
    Ok(())
}
