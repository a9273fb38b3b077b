//! Setting a campaign up: fixed loopback ports picked once, the two proxies, the three
//! nodes on their SQLite files, and the clients that reach them directly.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use super::ChaosConfig;
use super::journal::Journal;
use super::node::{Node, NodeSpec};
use super::plan::{Link, Plan};
use super::proxy::FaultProxy;
use super::stage::Stage;
use crate::binaries::{Binary, bin_dir};

/// Deadline of the checker's reads.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Clients straight to each service (never through a proxy).
#[derive(Debug, Clone)]
pub struct Clients {
    pub orchestrator: OrchestratorClient<Channel>,
    pub orders: OrdersClient<Channel>,
    pub invoices: InvoicesClient<Channel>,
}

/// Builds the stage (nothing started yet) and the clients.
pub async fn set_up(config: &ChaosConfig, plan: &Plan, dir: &Path) -> Result<(Stage, Clients)> {
    let bins = match &config.bin_dir {
        Some(dir) => dir.clone(),
        None => bin_dir()?,
    };
    let [orders_addr, invoices_addr, orchestrator_addr] = free_ports()?;
    let orders_proxy = FaultProxy::start(bind_loopback().await?, orders_addr)?;
    let invoices_proxy = FaultProxy::start(bind_loopback().await?, invoices_addr)?;
    let node = |binary: Binary, listen, mut args: Vec<String>, seed_root| -> Result<Node> {
        let database = dir.join(format!("{}.db", binary.name()));
        let url = format!("sqlite://{}", database.display());
        args.splice(0..0, ["--database-url".to_string(), url]);
        Ok(Node::new(NodeSpec {
            binary,
            path: binary.path_in(&bins)?,
            listen,
            args,
            log: dir.join(format!("{}.log", binary.name())),
            database,
            seed_root,
            fault_intensity: config.fault_intensity,
            same_seed_every_start: config.orchestrator.same_seed_every_start,
        }))
    };
    let o = &config.orchestrator;
    let mut orchestrator_args = vec![
        "--orders-url".to_string(),
        orders_proxy.url(),
        "--invoices-url".to_string(),
        invoices_proxy.url(),
        "--call-timeout-ms".to_string(),
        o.call_timeout_ms.to_string(),
        "--max-attempts".to_string(),
        o.max_attempts.to_string(),
        "--retry-base-ms".to_string(),
        o.retry_base_ms.to_string(),
        "--retry-max-ms".to_string(),
        o.retry_max_ms.to_string(),
        "--parked-retry-ms".to_string(),
        o.parked_retry_ms.to_string(),
    ];
    orchestrator_args.extend(o.extra_args.iter().cloned());
    let nodes = vec![
        node(Binary::OrdersSvc, orders_addr, vec![], plan.fault_seed)?,
        node(
            Binary::InvoicesSvc,
            invoices_addr,
            vec![
                "--max-invoice-cents".to_string(),
                config.max_invoice_cents.to_string(),
            ],
            plan.fault_seed,
        )?,
        node(
            Binary::Orchestrator,
            orchestrator_addr,
            orchestrator_args,
            plan.orchestrator_seed,
        )?,
    ];
    let clients = Clients {
        orchestrator: OrchestratorClient::new(channel(orchestrator_addr, None)?),
        orders: OrdersClient::new(channel(orders_addr, Some(READ_TIMEOUT))?),
        invoices: InvoicesClient::new(channel(invoices_addr, Some(READ_TIMEOUT))?),
    };
    let stage = Stage::new(
        nodes,
        vec![
            (Link::Orders, orders_proxy),
            (Link::Invoices, invoices_proxy),
        ],
        Journal::create(dir)?,
    );
    Ok((stage, clients))
}

/// Three distinct free loopback ports, held at once so they differ, then released for
/// the services to bind for the whole campaign.
pub fn free_ports() -> Result<[SocketAddr; 3]> {
    let held = [bind_std()?, bind_std()?, bind_std()?];
    let addr = |l: &StdListener| l.local_addr().context("a listener without an address");
    Ok([addr(&held[0])?, addr(&held[1])?, addr(&held[2])?])
}

fn bind_std() -> Result<StdListener> {
    StdListener::bind("127.0.0.1:0").context("cannot bind a loopback port")
}

async fn bind_loopback() -> Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind a loopback port for a proxy")
}

/// A lazily connecting channel that reconnects after the service restarts.
fn channel(addr: SocketAddr, timeout: Option<Duration>) -> Result<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .with_context(|| format!("bad address {addr}"))?
        .connect_timeout(Duration::from_secs(1));
    Ok(match timeout {
        Some(t) => endpoint.timeout(t),
        None => endpoint,
    }
    .connect_lazy())
}
