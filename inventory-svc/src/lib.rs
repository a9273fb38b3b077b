//! A stock-reservation participant for the tests: `inventory.v1.Inventory` with `Reserve`
//! and `Release`, each idempotent per saga through the `service_kit::barrier` and decided
//! a batch at a time (`service_kit::write_plan`), serving
//! server reflection. The orchestrator has no generated code for it: it is what a team's
//! own service looks like to a saga definition.

pub mod api;
pub mod config;
pub mod service;

pub use config::Config;

use std::net::SocketAddr;

use service_kit::db::Migrations;
use service_kit::participant::Ready;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use service_kit::participant::StartupError;

/// The generated contract.
pub mod proto {
    tonic::include_proto!("inventory.v1");
}

/// The contract's descriptors, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/inventory.bin"));

static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../migrations/sqlite/inventory"),
    postgres: sqlx::migrate!("../migrations/postgres/inventory"),
};

/// A built inventory participant: database open and migrated, listener bound.
#[derive(Debug)]
pub struct App(Ready);

impl App {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Ready::build("inventory", &MIGRATIONS, config.flags())
            .await
            .map(Self)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// The HTTP listener's address (`--http-listen`: metrics), if there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.0.http_addr()
    }

    /// Serves until `shutdown` is cancelled, lets in-flight RPCs finish, then closes the
    /// database.
    pub async fn run_until(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        let Self(ready) = self;
        let api = api::InventoryApi::new(ready.db().clone(), ready.faults(), config::MAX_QUANTITY);
        let routes = Routes::new(proto::inventory_server::InventoryServer::new(api));
        let name = <proto::inventory_server::InventoryServer<api::InventoryApi> as tonic::server::NamedService>::NAME;
        ready
            .serve(name, routes, FILE_DESCRIPTOR_SET, shutdown)
            .await
    }
}
