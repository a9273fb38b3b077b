//! The event path holds through its failures: orders placed while the NATS server is down
//! wait in orders-svc's outbox, the orchestrator killed mid-run (SIGKILL) resumes from the
//! broker's durable consumer, and once both are back every order ends CONFIRMED with one
//! ISSUED invoice of its total; none is lost or invoiced twice.

use std::time::Duration;

use anyhow::{Result, ensure};
use saga_tests::direct::{placed, settled};
use saga_tests::nats::NatsServer;
use saga_tests::poll::eventually;
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};

const PATIENCE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_through_nats_survive_a_broker_restart_and_a_killed_orchestrator() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let Some(mut nats) = NatsServer::start().await? else {
        return Ok(());
    };
    let mut cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .nats_url(nats.url())
            .orchestrator_arg("--invoice-trigger=events"),
    )
    .await?;
    let mut orders = cluster.orders();
    for n in 0..10 {
        orders
            .place_order(placed(&format!("before-{n}"), 1, 300))
            .await?;
    }
    nats.restart().await?;
    for n in 0..10 {
        orders
            .place_order(placed(&format!("restarted-{n}"), 1, 400))
            .await?;
    }
    cluster.kill_orchestrator().await?;
    for n in 0..10 {
        orders
            .place_order(placed(&format!("killed-{n}"), 1, 500))
            .await?;
    }
    cluster.restart_orchestrator().await?;
    let end = eventually(PATIENCE, "every order settled", || settled(&cluster)).await?;
    ensure!(end.confirmed == 30 && end.cancelled == 0, "{end:?}");
    cluster.stop().await?;
    Ok(())
}
