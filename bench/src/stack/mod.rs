//! The services under load: a stack the benchmark starts (the three binaries from its own
//! target folder, on SQLite files in a fresh temporary folder or on fresh PostgreSQL
//! databases, with one or more orchestrator replicas) or one already running, and the
//! pools of connections the calls are spread over.

mod launch;
pub mod postgres;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use tonic::transport::{Channel, Endpoint};

use self::launch::Started;
use crate::config::{Config, Flow};
use crate::log_cost::db_size;

/// How long connecting to a service may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The three services' addresses, and the processes when the benchmark started them.
#[derive(Debug)]
pub struct Stack {
    started: Option<Started>,
    /// One per replica.
    pub orchestrator_urls: Vec<String>,
    pub orders_url: String,
    pub invoices_url: String,
    /// The orchestrator's SQLite file (its `-wal` sits beside it), when known.
    orchestrator_db: Option<PathBuf>,
    /// The PostgreSQL server's postmaster, whose processes' CPU counts with the stack's.
    postmaster: Option<u32>,
}

/// Connections to each service; call n uses connection n modulo the pool's size (and so
/// orchestrator replica n modulo the replicas).
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
                started: None,
                orchestrator_urls: vec![url.clone()],
                orders_url: orders.clone(),
                invoices_url: invoices.clone(),
                orchestrator_db: config.orchestrator_db.clone(),
                postmaster: None,
            }),
            _ => Self::start(config).await,
        }
    }

    async fn start(config: &Config) -> Result<Self> {
        let started = Started::start(config)
            .await
            .context("cannot start the stack")?;
        if config.definition == Flow::OrderWithStock {
            register_order_with_stock(&started.orchestrators[0].url()).await?;
        }
        let postmaster = match &started.databases {
            Some(dbs) => postgres::postmaster_pid(&dbs.orchestrator).await,
            None => None,
        };
        Ok(Self {
            orchestrator_urls: started.orchestrators.iter().map(|p| p.url()).collect(),
            orders_url: started.orders.url(),
            invoices_url: started.invoices.url(),
            orchestrator_db: started.orchestrator_db(),
            postmaster,
            started: Some(started),
        })
    }

    /// Whether the benchmark started these processes (and can account for their CPU).
    pub fn started_here(&self) -> bool {
        self.started.is_some()
    }

    /// Process trees whose CPU counts with the stack's beyond this process's children:
    /// the PostgreSQL server's, when it runs here.
    pub fn servers(&self) -> Vec<u32> {
        self.postmaster.into_iter().collect()
    }

    /// Bytes the saga log takes: the SQLite file and its WAL, or the orchestrator's
    /// PostgreSQL database.
    pub async fn log_size(&self) -> Option<u64> {
        match self.started.as_ref().and_then(|s| s.databases.as_ref()) {
            Some(dbs) => postgres::database_size(&dbs.orchestrator).await,
            None => self.orchestrator_db.as_deref().and_then(db_size),
        }
    }

    /// The PostgreSQL server's WAL position, on PostgreSQL.
    pub async fn wal_position(&self) -> Option<u64> {
        let dbs = self.started.as_ref()?.databases.as_ref()?;
        postgres::wal_position(&dbs.orchestrator).await
    }

    /// Opens `connections` connections to each service (to each orchestrator replica).
    pub async fn connect(&self, connections: u32) -> Result<Clients> {
        let mut clients = Clients {
            orchestrator: Vec::new(),
            orders: Vec::new(),
            invoices: Vec::new(),
        };
        for _ in 0..connections {
            for url in &self.orchestrator_urls {
                clients
                    .orchestrator
                    .push(OrchestratorClient::new(channel(url).await?));
            }
            clients
                .orders
                .push(OrdersClient::new(channel(&self.orders_url).await?));
            clients
                .invoices
                .push(InvoicesClient::new(channel(&self.invoices_url).await?));
        }
        Ok(clients)
    }

    /// Stops a started stack with SIGTERM (orchestrators first) and drops its PostgreSQL
    /// databases; a running one is left be.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(started) = self.started.as_mut() {
            for (name, status) in started.stop().await? {
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

/// Registers the four-step example with the orchestrator at `url`.
async fn register_order_with_stock(url: &str) -> Result<()> {
    let definition = saga_definitions::file::from_json(saga_tests::stock::ORDER_WITH_STOCK)?;
    let mut client = OrchestratorClient::new(channel(url).await?);
    client
        .register_definition(saga_contracts::saga::v1::RegisterDefinitionRequest {
            definition: Some(definition),
            validate_only: false,
        })
        .await
        .context("cannot register order-with-stock")?;
    Ok(())
}
