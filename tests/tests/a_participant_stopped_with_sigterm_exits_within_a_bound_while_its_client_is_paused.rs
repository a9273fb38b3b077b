//! Regression, found by `saga-chaos` (graceful stops with pauses): a participant's SIGTERM
//! drain waited for every client connection to close, so while the orchestrator was paused
//! (or cut off) the participant never exited. SIGTERM must end the process within a bound.

use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_tests::backend::{Backend, on_every_backend};
use saga_tests::binaries::{Binary, bin_dir};
use saga_tests::chaos::node::{Node, NodeSpec};
use saga_tests::chaos::setup::free_ports;
use saga_tests::requests::{place, small_order};
use tokio::time::Instant;

/// How long the participant may drain; the orchestrator's own default is 5 s.
const BOUND: Duration = Duration::from_secs(6);
const POLL: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_stopped_with_sigterm_exits_within_a_bound_while_its_client_is_paused()
-> Result<()> {
    on_every_backend(stops_within_a_bound).await
}

async fn stops_within_a_bound(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bins = bin_dir()?;
    let [orders, invoices, orchestrator] = <[_; 3]>::try_from(free_ports(3)?)
        .map_err(|ports| anyhow::anyhow!("asked for 3 ports, got {ports:?}"))?;
    let mut nodes = Vec::new();
    for (binary, listen) in [
        (Binary::OrdersSvc, orders),
        (Binary::InvoicesSvc, invoices),
        (Binary::Orchestrator, orchestrator),
    ] {
        let args = match binary {
            Binary::Orchestrator => vec![
                "--orders-url".to_string(),
                format!("http://{orders}"),
                "--invoices-url".to_string(),
                format!("http://{invoices}"),
            ],
            _ => vec![],
        };
        let database = backend.database(dir.path(), binary).await?;
        let spec = NodeSpec::lone(binary, &bins, listen, args, dir.path(), database)?;
        nodes.push(Node::new(spec));
    }
    for n in &mut nodes {
        n.start().await?;
    }
    let [orders_svc, _invoices_svc, orchestrator_node] = nodes.as_mut_slice() else {
        anyhow::bail!("three nodes were started");
    };
    let client = OrchestratorClient::connect(format!("http://{orchestrator}"))
        .await
        .context("cannot reach the orchestrator")?;
    // The orchestrator now holds a connection to orders-svc.
    place(&client, small_order(0)).await?;

    orchestrator_node.pause()?;
    orders_svc.term()?;
    let stopping = Instant::now();
    let turns = BOUND.as_millis() / POLL.as_millis();
    for _ in 0..turns {
        if !orders_svc.is_draining()? {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let drained_in = stopping.elapsed();
    orchestrator_node.resume()?;

    assert!(
        drained_in < BOUND,
        "orders-svc was still draining {drained_in:?} after SIGTERM"
    );
    Ok(())
}
