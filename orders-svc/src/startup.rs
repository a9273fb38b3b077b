//! Building the orders participant from its [`Config`] and serving it until shutdown.

use std::net::SocketAddr;

use saga_contracts::FILE_DESCRIPTOR_SET;
use saga_contracts::orders::v1::orders_server::OrdersServer;
use service_kit::db::Migrations;
use service_kit::participant::Ready;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::api::OrdersApi;
use crate::config::Config;

pub use service_kit::participant::StartupError;

/// The orders schema of each backend, applied whenever the database is opened.
pub(crate) static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../migrations/sqlite/orders"),
    postgres: sqlx::migrate!("../migrations/postgres/orders"),
};

/// A built orders participant: database open and migrated, listener bound, not yet
/// serving.
#[derive(Debug)]
pub struct App(Ready);

impl App {
    /// Opens the database, parses the faults and binds `config.listen`.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Ready::build("orders", &MIGRATIONS, config.flags())
            .await
            .map(Self)
    }

    /// Like [`App::build`] on an already-bound `listener` (`config.listen` is ignored).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        Ready::build_with_listener("orders", &MIGRATIONS, config.flags(), listener)
            .await
            .map(Self)
    }

    /// The address actually bound (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// Serves until `shutdown` is cancelled, lets in-flight RPCs finish, then closes the
    /// database.
    pub async fn run_until(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        let Self(ready) = self;
        tracing::info!(addr = %ready.local_addr(), "orders participant serving");
        let api = OrdersApi::new(ready.db().clone(), ready.faults());
        let served = ready
            .serve(
                Routes::new(OrdersServer::new(api)),
                FILE_DESCRIPTOR_SET,
                shutdown,
            )
            .await;
        tracing::info!("orders participant stopped");
        served
    }
}
