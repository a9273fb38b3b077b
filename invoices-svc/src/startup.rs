//! Building the invoices participant from its [`Config`] and serving it until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use saga_contracts::invoices::v1::invoices_server::InvoicesServer;
use service_kit::db::{self, OpenError};
use service_kit::faults::{FaultSpecError, Faults};
use sqlx::SqlitePool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::api::InvoicesApi;
use crate::config::Config;

/// Why the participant could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid --faults")]
    Faults(#[from] FaultSpecError),
    #[error("cannot open the invoices database")]
    Database(#[from] OpenError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A built participant: database open and migrated, listener bound, not yet serving.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    pool: SqlitePool,
    faults: Arc<Faults>,
    max_invoice_cents: i64,
}

impl App {
    /// Opens the database, parses the faults and binds `config.listen`.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let listener = service_kit::serve::bind(&config.listen)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.listen.clone(),
                source,
            })?;
        Self::build_with_listener(config, listener).await
    }

    /// Like [`App::build`] on an already-bound `listener` (`config.listen` is ignored).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let seed = config.fault_seed.unwrap_or_else(seed_from_clock);
        let faults = Faults::parse(&config.faults, seed)?;
        if !config.faults.is_empty() {
            tracing::info!(faults = %config.faults, seed, "injecting faults");
        }
        let pool = db::open_sqlite(
            &config.database_url,
            &sqlx::migrate!("../migrations/invoices"),
        )
        .await?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
        Ok(Self {
            listener,
            local_addr,
            pool,
            faults: Arc::new(faults),
            max_invoice_cents: config.max_invoice_cents,
        })
    }

    /// The address actually bound (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled, lets in-flight RPCs finish, then closes the
    /// database.
    pub async fn run_until(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        tracing::info!(
            addr = %self.local_addr,
            max_invoice_cents = self.max_invoice_cents,
            "invoices participant serving"
        );
        let api = InvoicesApi::new(self.pool.clone(), self.faults, self.max_invoice_cents);
        let routes = Routes::new(InvoicesServer::new(api));
        let served = service_kit::serve::serve(self.listener, routes, shutdown).await;
        self.pool.close().await;
        tracing::info!("invoices participant stopped");
        served
    }
}

fn seed_from_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}
