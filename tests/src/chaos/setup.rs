//! Setting a campaign up: fixed loopback ports picked once, a proxy per participant, a fresh
//! database per service on the campaign's backend (the orchestrator replicas share
//! theirs) and on PostgreSQL the proxy in front of its server that every service reaches
//! it through, the nodes, and the clients that reach them directly.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use super::config::{CUT_PROBABILITY, SYNC_INTERVAL_MS, SYNC_PAGE_SIZE};
use super::journal::Journal;
use super::node::{Node, NodeSpec};
use super::node_id::NodeId;
use super::pg_proxy::{PgProxy, PgProxySettings, server_addr, url_through};
use super::plan::{Link, Plan, derive};
use super::proxy::FaultProxy;
use super::stage::Stage;
use super::{ChaosConfig, Flow};
use crate::backend::{Backend, Database};
use crate::binaries::{Binary, bin_dir};
use crate::nats::NatsServer;
use crate::pattern::Pattern;
use crate::stock::ORDER_WITH_STOCK;

/// Deadline of the checker's reads.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Mixed into the plan's fault seed for the database proxy's own draws ("pg-proxy").
const DATABASE_PROXY_SEED: u64 = u64::from_le_bytes(*b"pg-proxy");

/// Clients straight to each service (never through a proxy).
#[derive(Debug, Clone)]
pub struct Clients {
    /// The first orchestrator, for the checker's reads (every replica serves them).
    pub orchestrator: OrchestratorClient<Channel>,
    /// Every orchestrator by name, for the load (one entry without replicas).
    pub orchestrators: Vec<(String, OrchestratorClient<Channel>)>,
    pub orders: OrdersClient<Channel>,
    pub invoices: InvoicesClient<Channel>,
    /// Orders are placed at orders-svc directly (a direct pattern).
    pub direct: bool,
}

/// Builds the stage (nothing started yet) and the clients.
pub async fn set_up(config: &ChaosConfig, plan: &Plan, dir: &Path) -> Result<(Stage, Clients)> {
    if config.replicas > 1 && config.backend == Backend::Sqlite {
        bail!("several orchestrator replicas need PostgreSQL (--backend postgres)");
    }
    let bins = match &config.bin_dir {
        Some(dir) => dir.clone(),
        None => bin_dir()?,
    };
    let ids = NodeId::with(config.flow.extra_nodes(), config.replicas);
    // Held until the proxies below have bound theirs: a port released at once could be
    // handed to a proxy's listener and a service could then not bind it.
    let held = hold_ports(ids.len())?;
    let addrs: BTreeMap<NodeId, SocketAddr> = ids.iter().copied().zip(addrs(&held)?).collect();
    let addr = |id: NodeId| addrs.get(&id).copied().context("no port for a node");
    let orders_proxy = FaultProxy::start(bind_loopback().await?, addr(NodeId::ORDERS)?)?;
    let invoices_proxy = FaultProxy::start(bind_loopback().await?, addr(NodeId::INVOICES)?)?;
    let mut links = vec![
        (Link::Orders, orders_proxy),
        (Link::Invoices, invoices_proxy),
    ];
    if config.flow == Flow::OrderWithStock {
        let proxy = FaultProxy::start(bind_loopback().await?, addr(NodeId::INVENTORY)?)?;
        links.push((Link::Inventory, proxy));
    }
    let mut databases = BTreeMap::new();
    for id in &ids {
        if let Entry::Vacant(entry) = databases.entry(id.binary) {
            entry.insert(config.backend.database(dir, id.binary).await?);
        }
    }
    let broker = start_broker(config).await?;
    let nats_url = broker.as_ref().map(NatsServer::url);
    let orchestrator_args = orchestrator_args(config, &links, dir, nats_url.as_deref())?;
    let database_proxy = start_database_proxy(config, plan).await?;
    drop(held);
    let mut nodes = Vec::new();
    for id in ids.iter().copied() {
        let (args, seed_root) = match id.binary {
            Binary::OrdersSvc => match &nats_url {
                Some(url) => (vec!["--nats-url".to_string(), url.clone()], plan.fault_seed),
                None => (vec![], plan.fault_seed),
            },
            Binary::InventorySvc => (vec![], plan.fault_seed),
            Binary::InvoicesSvc => (
                vec![
                    "--max-invoice-cents".to_string(),
                    config.max_invoice_cents.to_string(),
                ],
                plan.fault_seed,
            ),
            Binary::Orchestrator => (
                orchestrator_args.clone(),
                replica_seed_root(plan.orchestrator_seed, id),
            ),
        };
        nodes.push(Node::new(NodeSpec {
            id,
            path: id.binary.path_in(&bins)?,
            listen: addr(id)?,
            args,
            log: dir.join(format!("{}.log", id.name())),
            database: as_served(
                databases
                    .get(&id.binary)
                    .context("no database for a node")?,
                database_proxy.as_ref(),
            )?,
            seed_root,
            fault_intensity: config.fault_intensity,
            direct_faults: config.pattern.direct(),
            same_seed_every_start: config.orchestrator.same_seed_every_start,
        }));
    }
    let mut orchestrators = Vec::new();
    for id in NodeId::orchestrators(config.replicas) {
        orchestrators.push((
            id.name(),
            OrchestratorClient::new(channel(addr(id)?, None)?),
        ));
    }
    let clients = Clients {
        orchestrator: orchestrators
            .first()
            .map(|(_, client)| client.clone())
            .context("no orchestrator")?,
        orchestrators,
        orders: OrdersClient::new(channel(addr(NodeId::ORDERS)?, Some(READ_TIMEOUT))?),
        invoices: InvoicesClient::new(channel(addr(NodeId::INVOICES)?, Some(READ_TIMEOUT))?),
        direct: config.pattern.direct(),
    };
    let stage = Stage::new(
        nodes,
        links,
        databases,
        config.backend.clone(),
        match config.backend {
            Backend::Postgres { .. } => config.postgres_server.clone(),
            Backend::Sqlite => None,
        },
        database_proxy,
        Journal::create(dir)?,
    )
    .with_broker(broker);
    Ok((stage, clients))
}

/// The campaign's own NATS server, on the NATS event path.
async fn start_broker(config: &ChaosConfig) -> Result<Option<NatsServer>> {
    if config.pattern != Pattern::EventsNats {
        return Ok(None);
    }
    match NatsServer::start().await? {
        Some(server) => Ok(Some(server)),
        None => bail!("--pattern events-nats needs nats-server (Debian's package nats-server)"),
    }
}

/// On PostgreSQL with database-proxy faults, the proxy in front of the server, clean.
async fn start_database_proxy(config: &ChaosConfig, plan: &Plan) -> Result<Option<PgProxy>> {
    let Backend::Postgres { server_url } = &config.backend else {
        return Ok(None);
    };
    if config.schedule().pg_fault_interval.is_zero() {
        return Ok(None);
    }
    let settings = PgProxySettings {
        seed: derive(plan.fault_seed, &[DATABASE_PROXY_SEED]),
        in_doubt_probability: config.in_doubt_probability,
        cut_probability: CUT_PROBABILITY,
    };
    let upstream = server_addr(server_url).await?;
    Ok(Some(PgProxy::start(
        bind_loopback().await?,
        upstream,
        settings,
    )?))
}

/// A service's database as the service reaches it: through the database proxy when
/// there is one (the runner's own connections keep the direct one).
fn as_served(database: &Database, proxy: Option<&PgProxy>) -> Result<Database> {
    match (database, proxy) {
        (Database::Postgres { url }, Some(proxy)) => Ok(Database::Postgres {
            url: url_through(url, proxy.addr())?,
        }),
        _ => Ok(database.clone()),
    }
}

/// The orchestrators' flags: each participant reached through its link's proxy, the
/// campaign's tuning, with the four-step definition its file in a folder of
/// definitions registered at start-up, and with a direct pattern its invoice trigger.
fn orchestrator_args(
    config: &ChaosConfig,
    links: &[(Link, FaultProxy)],
    dir: &Path,
    nats_url: Option<&str>,
) -> Result<Vec<String>> {
    let o = &config.orchestrator;
    let mut args = Vec::new();
    for (link, proxy) in links {
        args.extend(match link {
            Link::Orders => ["--orders-url".to_string(), proxy.url()],
            Link::Invoices => ["--invoices-url".to_string(), proxy.url()],
            Link::Inventory => [
                "--participant".to_string(),
                format!("inventory.v1.Inventory={}", proxy.url()),
            ],
        });
    }
    if config.flow == Flow::OrderWithStock {
        let definitions = dir.join("definitions");
        std::fs::create_dir_all(&definitions)
            .and_then(|()| {
                std::fs::write(definitions.join("order-with-stock.json"), ORDER_WITH_STOCK)
            })
            .context("cannot write the campaign's definitions folder")?;
        args.extend([
            "--definitions".to_string(),
            definitions.display().to_string(),
        ]);
    }
    args.extend([
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
    ]);
    if let Some(lease_ms) = o.lease_ms {
        args.extend(["--lease-ms".to_string(), lease_ms.to_string()]);
    }
    if config.pattern.direct() {
        args.extend([
            "--invoice-trigger".to_string(),
            config.pattern.invoice_trigger().to_string(),
            "--sync-interval-ms".to_string(),
            SYNC_INTERVAL_MS.to_string(),
            "--sync-page-size".to_string(),
            SYNC_PAGE_SIZE.to_string(),
        ]);
    }
    if let Some(url) = nats_url {
        args.extend(["--nats-url".to_string(), url.to_string()]);
    }
    args.extend(o.extra_args.iter().cloned());
    Ok(args)
}

/// Each replica draws its `--seed`s from a root of its own (ids and jitter differ
/// between replicas); a lone orchestrator from the plan's, as before replicas existed.
fn replica_seed_root(root: u64, id: NodeId) -> u64 {
    match id.replica {
        0 => root,
        n => derive(root, &[u64::from(n)]),
    }
}

/// `n` distinct free loopback ports, held at once so they differ, then released for
/// the services to bind for the whole campaign.
pub fn free_ports(n: usize) -> Result<Vec<SocketAddr>> {
    addrs(&hold_ports(n)?)
}

/// `n` distinct free loopback ports, held until the listeners are dropped.
fn hold_ports(n: usize) -> Result<Vec<StdListener>> {
    (0..n).map(|_| bind_std()).collect()
}

fn addrs(held: &[StdListener]) -> Result<Vec<SocketAddr>> {
    held.iter()
        .map(|l| l.local_addr().context("a listener without an address"))
        .collect()
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
