//! Building the invoices participant from its [`Config`] and serving it until shutdown.

use std::net::SocketAddr;

use saga_contracts::FILE_DESCRIPTOR_SET;
use saga_contracts::invoices::v1::invoices_server::InvoicesServer;
use service_kit::db::Migrations;
use service_kit::participant::Ready;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::api::InvoicesApi;
use crate::config::Config;

pub use service_kit::participant::StartupError;

/// The invoices schema of each backend, applied whenever the database is opened.
pub(crate) static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../migrations/sqlite/invoices"),
    postgres: sqlx::migrate!("../migrations/postgres/invoices"),
};

/// A built invoices participant: database open and migrated, listener bound, the
/// invoice limit read, not yet serving.
#[derive(Debug)]
pub struct App {
    ready: Ready,
    max_invoice_cents: i64,
}

impl App {
    /// Opens the database, parses the faults and binds `config.listen`.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let ready = Ready::build("invoices", &MIGRATIONS, config.flags()).await?;
        Ok(Self::with_limit(ready, &config))
    }

    /// Like [`App::build`] on an already-bound `listener` (`config.listen` is ignored).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let ready =
            Ready::build_with_listener("invoices", &MIGRATIONS, config.flags(), listener).await?;
        Ok(Self::with_limit(ready, &config))
    }

    fn with_limit(ready: Ready, config: &Config) -> Self {
        Self {
            ready,
            max_invoice_cents: config.max_invoice_cents,
        }
    }

    /// The address actually bound (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.ready.local_addr()
    }

    /// The HTTP listener's address (`--http-listen`: metrics), if there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.ready.http_addr()
    }

    /// Serves until `shutdown` is cancelled, lets in-flight RPCs finish, then closes the
    /// database.
    pub async fn run_until(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        tracing::info!(
            addr = %self.ready.local_addr(),
            max_invoice_cents = self.max_invoice_cents,
            "invoices participant serving"
        );
        let api = InvoicesApi::new(
            self.ready.db().clone(),
            self.ready.faults(),
            self.max_invoice_cents,
        );
        let served = self
            .ready
            .serve(
                <InvoicesServer<InvoicesApi> as tonic::server::NamedService>::NAME,
                Routes::new(InvoicesServer::new(api)),
                FILE_DESCRIPTOR_SET,
                shutdown,
            )
            .await;
        tracing::info!("invoices participant stopped");
        served
    }
}
