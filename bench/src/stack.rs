//! The services under load: a stack the benchmark starts (the three binaries from its own
//! target folder, on SQLite files in a fresh temporary folder) or one already running,
//! and the pools of connections the calls are spread over.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_tests::{Cluster, ClusterOptions};
use tonic::transport::{Channel, Endpoint};

use crate::config::{Backend, Config};

/// The orchestrator's own defaults, so that a started stack retries like production
/// rather than like the end-to-end tests (which retry fast to finish quickly).
const MAX_ATTEMPTS: u32 = 8;
const RETRY_BASE_MS: u64 = 50;
const RETRY_MAX_MS: u64 = 5_000;
/// How long connecting to a service may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The three services' addresses, and the processes when the benchmark started them.
#[derive(Debug)]
pub struct Stack {
    cluster: Option<Cluster>,
    pub orchestrator_url: String,
    pub orders_url: String,
    pub invoices_url: String,
    /// The orchestrator's SQLite file (its `-wal` sits beside it), when known.
    pub orchestrator_db: Option<PathBuf>,
}

/// Connections to each service; call n uses connection n modulo the pool's size.
#[derive(Debug, Clone)]
pub struct Clients {
    orchestrator: Vec<OrchestratorClient<Channel>>,
    orders: Vec<OrdersClient<Channel>>,
    invoices: Vec<InvoicesClient<Channel>>,
}

impl Stack {
    /// Starts the stack, or names the running one, as the flags say.
    pub async fn open(config: &Config) -> Result<Self> {
        match (&config.url, &config.orders_url, &config.invoices_url) {
            (Some(url), Some(orders), Some(invoices)) => Ok(Self {
                cluster: None,
                orchestrator_url: url.clone(),
                orders_url: orders.clone(),
                invoices_url: invoices.clone(),
                orchestrator_db: config.orchestrator_db.clone(),
            }),
            _ => Self::start(config).await,
        }
    }

    async fn start(config: &Config) -> Result<Self> {
        let options = match config.backend {
            // The harness runs each service on its own SQLite file.
            Backend::Sqlite => ClusterOptions {
                orders_faults: config.faults.clone(),
                invoices_faults: config.faults.clone(),
                fault_seed: config.seed,
                // A crashed participant must come back for its sagas to end.
                supervise_participants: config.faults.contains(":crash"),
                call_timeout_ms: config.call_timeout_ms,
                max_attempts: MAX_ATTEMPTS,
                retry_base_ms: RETRY_BASE_MS,
                retry_max_ms: RETRY_MAX_MS,
                seed: config.seed,
                // The report says what went wrong; SAGA_TESTS_KEEP_DIR=1 keeps the logs.
                log_tails_on_drop: false,
                ..ClusterOptions::default()
            },
        };
        let cluster = Cluster::start(options)
            .await
            .context("cannot start the stack")?;
        Ok(Self {
            orchestrator_url: cluster
                .orchestrator_url()
                .context("the orchestrator is not running")?,
            orders_url: cluster.orders_url(),
            invoices_url: cluster.invoices_url(),
            orchestrator_db: Some(cluster.dir().join("orchestrator.db")),
            cluster: Some(cluster),
        })
    }

    /// Whether the benchmark started these processes (and can account for their CPU).
    pub fn started_here(&self) -> bool {
        self.cluster.is_some()
    }

    /// Opens `connections` connections to each service.
    pub async fn connect(&self, connections: u32) -> Result<Clients> {
        let mut clients = Clients {
            orchestrator: Vec::new(),
            orders: Vec::new(),
            invoices: Vec::new(),
        };
        for _ in 0..connections {
            clients.orchestrator.push(OrchestratorClient::new(
                channel(&self.orchestrator_url).await?,
            ));
            clients
                .orders
                .push(OrdersClient::new(channel(&self.orders_url).await?));
            clients
                .invoices
                .push(InvoicesClient::new(channel(&self.invoices_url).await?));
        }
        Ok(clients)
    }

    /// Stops a started stack with SIGTERM (orchestrator first); a running one is left be.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(cluster) = self.cluster.as_mut() {
            for (name, status) in cluster.stop().await? {
                if !status.success() {
                    eprintln!("saga-bench: {name} exited with {status} when stopped");
                }
            }
        }
        Ok(())
    }
}

impl Clients {
    /// The orchestrator connection for call `n`.
    pub fn orchestrator(&self, n: u64) -> OrchestratorClient<Channel> {
        pick(&self.orchestrator, n)
    }

    /// The orders-svc connection for call `n`.
    pub fn orders(&self, n: u64) -> OrdersClient<Channel> {
        pick(&self.orders, n)
    }

    /// The invoices-svc connection for call `n`.
    pub fn invoices(&self, n: u64) -> InvoicesClient<Channel> {
        pick(&self.invoices, n)
    }
}

fn pick<T: Clone>(pool: &[T], n: u64) -> T {
    let index = usize::try_from(n).unwrap_or(0) % pool.len().max(1);
    // Pools are never empty (`--connections` is at least 1).
    pool[index].clone()
}

async fn channel(url: &str) -> Result<Channel> {
    Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad url {url}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {url}"))
}
