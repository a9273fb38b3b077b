//! Regression, found by `saga-chaos` (overlapping generations): a stopping orchestrator
//! first waited for its gRPC server to drain and only then for its sagas' in-flight
//! calls, each up to `--drain-timeout-ms`, so with a request stuck open and a call stuck
//! in a participant it took twice that to exit. Both drains start at SIGTERM.

use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_tests::backend::Backend;
use saga_tests::binaries::{Binary, bin_dir};
use saga_tests::chaos::node::{Node, NodeSpec};
use saga_tests::chaos::setup::free_ports;
use saga_tests::requests::small_order;
use tokio::time::Instant;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Endpoint;

const DRAIN_MS: u64 = 3_000;
/// One drain and some slack; two drains are past it.
const BOUND: Duration = Duration::from_millis(DRAIN_MS + 1_500);
const POLL: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_stopped_with_sigterm_exits_within_one_drain_while_busy() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bins = bin_dir()?;
    let [orders, invoices, orchestrator] = <[_; 3]>::try_from(free_ports(3)?)
        .map_err(|ports| anyhow::anyhow!("asked for 3 ports, got {ports:?}"))?;
    let mut nodes = Vec::new();
    for (binary, listen, args) in [
        // Every create hangs for 30 s: the saga's driver is stuck in a call.
        (
            Binary::OrdersSvc,
            orders,
            vec![
                "--faults".to_string(),
                "CreateOrder:delay=30000:1".to_string(),
            ],
        ),
        (Binary::InvoicesSvc, invoices, vec![]),
        (
            Binary::Orchestrator,
            orchestrator,
            vec![
                format!("--orders-url=http://{orders}"),
                format!("--invoices-url=http://{invoices}"),
                "--call-timeout-ms=60000".to_string(),
                format!("--drain-timeout-ms={DRAIN_MS}"),
            ],
        ),
    ] {
        let database = Backend::Sqlite.database(dir.path(), binary).await?;
        let spec = NodeSpec::lone(binary, &bins, listen, args, dir.path(), database)?;
        nodes.push(Node::new(spec));
    }
    for n in &mut nodes {
        n.start().await?;
    }
    let url = format!("http://{orchestrator}");
    let mut client = OrchestratorClient::connect(url.clone())
        .await
        .context("cannot reach the orchestrator")?;
    let mut order = small_order(0);
    order.wait_ms = 100;
    let placed = client.place_order(order).await?.into_inner();
    assert!(placed.saga.is_some(), "the saga runs, its create stuck");
    // A request whose body never comes: the server's drain waits for it.
    let channel = Endpoint::from_shared(url)?.connect().await?;
    tokio::spawn(async move {
        let mut grpc = tonic::client::Grpc::new(channel);
        let _ = grpc.ready().await;
        let path = PathAndQuery::from_static("/saga.v1.Orchestrator/PlaceOrder");
        let never = tonic::Request::new(tokio_stream::pending::<pb::PlaceOrderRequest>());
        let codec =
            tonic_prost::ProstCodec::<pb::PlaceOrderRequest, pb::PlaceOrderResponse>::default();
        let _ = grpc.client_streaming(never, path, codec).await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let [_, _, orchestrator_node] = nodes.as_mut_slice() else {
        anyhow::bail!("three nodes were started");
    };
    orchestrator_node.term()?;
    let stopping = Instant::now();
    for _ in 0..(2 * BOUND.as_millis() / POLL.as_millis()) {
        if !orchestrator_node.is_draining()? {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let drained_in = stopping.elapsed();
    assert!(
        drained_in < BOUND,
        "the orchestrator was still draining {drained_in:?} after SIGTERM (drain {DRAIN_MS} ms)"
    );
    Ok(())
}
