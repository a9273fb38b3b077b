//! Building the orders participant from its [`Config`] and serving it until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use saga_contracts::FILE_DESCRIPTOR_SET;
use saga_contracts::orders::v1::orders_server::OrdersServer;
use service_kit::db::Migrations;
use service_kit::participant::Ready;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::api::{self, OrdersApi};
use crate::config::Config;
use crate::plan::{OrdersPlan, Writer};
use crate::relay;

pub use service_kit::participant::StartupError;

/// The orders schema of each backend, applied whenever the database is opened.
pub(crate) static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../migrations/sqlite/orders"),
    postgres: sqlx::migrate!("../migrations/postgres/orders"),
};

/// A built orders participant: database open and migrated, listener bound, not yet
/// serving; with the broker to relay the outbox to, if any.
#[derive(Debug)]
pub struct App {
    ready: Ready,
    nats_url: Option<String>,
}

impl App {
    /// Opens the database, parses the faults and binds `config.listen`.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let ready = Ready::build("orders", &MIGRATIONS, config.flags()).await?;
        Ok(Self {
            ready,
            nats_url: config.nats_url,
        })
    }

    /// Like [`App::build`] on an already-bound `listener` (`config.listen` is ignored).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let ready =
            Ready::build_with_listener("orders", &MIGRATIONS, config.flags(), listener).await?;
        Ok(Self {
            ready,
            nats_url: config.nats_url,
        })
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
        let Self { ready, nats_url } = self;
        tracing::info!(addr = %ready.local_addr(), "orders participant serving");
        let committed = Arc::new(Notify::new());
        let writer = Writer::with_plan(ready.db().clone(), api::MAX_BATCH, OrdersPlan);
        if let Some(url) = nats_url {
            let outbox = relay::Outbox {
                db: ready.db().clone(),
                writer: writer.clone(),
                faults: ready.faults(),
            };
            tokio::spawn(relay::run(outbox, url, committed.clone(), shutdown.clone()));
        }
        let api = OrdersApi::new(ready.db().clone(), writer, ready.faults(), committed);
        let served = ready
            .serve(
                <OrdersServer<OrdersApi> as tonic::server::NamedService>::NAME,
                Routes::new(OrdersServer::new(api)),
                FILE_DESCRIPTOR_SET,
                shutdown,
            )
            .await;
        tracing::info!("orders participant stopped");
        served
    }
}
