//! The four-step definition under ambiguous faults on every call of every participant
//! (the effect happens, the answer is lost) and an orchestrator SIGKILLed mid-saga and
//! restarted: every saga ends, with exactly one effect per step and every compensation
//! in reverse order (the general log checker over the definition's shape), and the
//! stock of each saga held if and only if it completed.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::{SagaStatus, StepOutcome};
use saga_tests::backend::Database;
use saga_tests::cluster::is_terminal;
use saga_tests::invariants::reservation_violations;
use saga_tests::saga_log::count;
use saga_tests::{Backend, Cluster, ClusterOptions, check_invariants, on_every_backend, stock};

const MAX_INVOICE_CENTS: i64 = 100_000;
/// Sagas of each kind: completing (twice as many), refused reservation, invoice over the
/// limit.
const EACH: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_step_saga_under_ambiguous_faults_and_a_kill_leaves_one_effect_per_step()
-> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inventory_db = dir.path().join("inventory.db");
    let inventory = stock::inventory(
        dir.path(),
        &inventory_db,
        "Reserve:ambiguous:0.3,Reserve:delay=100:1,Release:ambiguous:0.3",
    )
    .await?;
    let options = ClusterOptions::default()
        .backend(backend)
        .max_invoice_cents(MAX_INVOICE_CENTS)
        .orders_faults(
            "CreateOrder:ambiguous:0.3,ConfirmOrder:ambiguous:0.3,CancelOrder:ambiguous:0.3",
        )
        .invoices_faults("CreateInvoice:ambiguous:0.5,VoidInvoice:ambiguous:0.3")
        .fault_seed(41)
        // Half the invoices' creations fail ambiguously: with the default 8 attempts a
        // saga meant to complete gives up now and then (0.5^8 per step), and compensates.
        .max_attempts(40)
        .orchestrator_arg(stock::participant_arg(&inventory));
    let mut cluster = Cluster::start(options).await?;
    stock::register(
        &cluster,
        &saga_definitions::file::from_json(stock::ORDER_WITH_STOCK)?,
    )
    .await?;
    let mut expected = HashMap::new();
    for i in 0..EACH {
        for (kind, quantity, price, ends) in [
            ("ok", 1, 300, SagaStatus::Completed),
            ("ok-too", 2, 150, SagaStatus::Completed),
            ("too-many", 5_000, 1, SagaStatus::Compensated),
            (
                "over-limit",
                1,
                MAX_INVOICE_CENTS + 1,
                SagaStatus::Compensated,
            ),
        ] {
            let saga = start(&cluster, &format!("{kind}-{i}"), quantity, price).await?;
            expected.insert(saga.saga_id, ends);
        }
    }

    let seen = cluster
        .wait_for_a_saga_mid_way(Duration::from_secs(20))
        .await?;
    cluster.kill_orchestrator().await?;
    ensure!(
        seen.iter().any(|s| !is_terminal(s.status())),
        "the kill interrupted sagas"
    );
    cluster.restart_orchestrator().await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(60))
        .await?;

    let summary = check_invariants(&cluster).await?;
    ensure!(summary.sagas.len() == expected.len(), "no saga lost");
    for step in ["create_order", "reserve_stock", "create_invoice"] {
        ensure!(
            count(&summary.sagas, step, StepOutcome::RetryScheduled) > 0,
            "the ambiguous faults fired on {step}, so it was repeated"
        );
    }
    let reservations = stock::reservations(&Database::Sqlite(inventory_db.clone())).await?;
    for saga in &summary.sagas {
        assert_eq!(
            Some(&saga.status()),
            expected.get(&saga.saga_id),
            "{}",
            saga.saga_id
        );
    }
    let found = reservation_violations(&summary.sagas, stock::NAME, &reservations);
    ensure!(found.is_empty(), "{found:#?}");
    drop(inventory);
    Ok(())
}

/// Starts a saga of one line and answers at once.
async fn start(cluster: &Cluster, key: &str, quantity: u32, price: i64) -> Result<pb::Saga> {
    Ok(stock::start(cluster, key, &stock::order(quantity, price), 20).await?)
}
