//! The background sync under kills: the orchestrator is killed (SIGKILL) again and again
//! while its sweep pages through the orders, on each backend. Every order still ends
//! CONFIRMED with one ISSUED invoice of its total, and each got exactly one saga: the
//! watermark commits with the sagas of its page, so no page is skipped or started twice.

use std::time::Duration;

use anyhow::{Result, ensure};
use saga_contracts::saga::v1::SagaStatus;
use saga_tests::direct::{placed, settled};
use saga_tests::listing::all_sagas;
use saga_tests::poll::eventually;
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};

const PATIENCE: Duration = Duration::from_secs(90);
const ORDERS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_killed_mid_page_neither_skips_nor_repeats_an_order() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let mut cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .orchestrator_arg("--invoice-trigger=sync")
            .orchestrator_arg("--sync-interval-ms=50")
            .orchestrator_arg("--sync-page-size=4"),
    )
    .await?;
    let mut orders = cluster.orders();
    for n in 0..ORDERS {
        orders
            .place_order(placed(&format!("o-{n}"), 1, 100 + n as i64))
            .await?;
    }
    // The sweep leaves the last second's changes for later: it starts after a second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        cluster.kill_orchestrator().await?;
        cluster.restart_orchestrator().await?;
    }
    let end = eventually(PATIENCE, "every order settled", || settled(&cluster)).await?;
    ensure!(end.confirmed == ORDERS, "{end:?}");
    let sagas = all_sagas(&cluster.orchestrator(), SagaStatus::Unspecified).await?;
    let invoicing = sagas
        .iter()
        .filter(|s| s.definition == "invoice-order")
        .count();
    ensure!(
        invoicing == ORDERS,
        "{invoicing} invoice-order sagas for {ORDERS} orders"
    );
    cluster.stop().await?;
    Ok(())
}
