//! The four-step example definition over `inventory-svc`, for the tests: the participant
//! as a process, and sagas of the definition started with `StartSaga`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use saga_contracts::saga::v1 as pb;
use serde_json::{Value, json};

use crate::Cluster;
use crate::backend::Database;
use crate::binaries::bin_dir;
use crate::process::ServiceProcess;

/// `definitions/examples/order-with-stock.json`.
pub const ORDER_WITH_STOCK: &str = include_str!("../../definitions/examples/order-with-stock.json");
/// Its name.
pub const NAME: &str = "order-with-stock";
/// A quantity `inventory-svc` refuses to reserve (over its `MAX_QUANTITY`).
pub const REFUSED_QUANTITY: u32 = 1_001;

/// `inventory-svc` on the SQLite file `db`, injecting `faults`, logging into `dir`.
pub async fn inventory(dir: &Path, db: &Path, faults: &str) -> Result<ServiceProcess> {
    let database = format!("sqlite://{}", db.display());
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database,
        "--faults",
        faults,
        "--fault-seed",
        "5",
    ]
    .map(String::from);
    ServiceProcess::spawn(
        "inventory-svc",
        &bin_dir()?.join("inventory-svc"),
        &args,
        &dir.join("inventory-svc.log"),
    )
    .await
    .context("build the workspace's binaries: cargo build --workspace")
}

/// The orchestrator flag that names `inventory` as the inventory participant.
pub fn participant_arg(inventory: &ServiceProcess) -> String {
    format!("--participant=inventory.v1.Inventory={}", inventory.url())
}

/// An order of one line: `quantity` × `unit_price_cents`.
pub fn order(quantity: u32, unit_price_cents: i64) -> Value {
    json!({
        "customer_id": "c-stock",
        "items": [{"sku": "beans", "quantity": quantity, "unit_price_cents": unit_price_cents}],
        "currency": "EUR",
    })
}

/// Registers `definition`; its version.
pub async fn register(cluster: &Cluster, definition: &pb::SagaDefinition) -> Result<u32> {
    let registered = cluster
        .orchestrator()
        .register_definition(pb::RegisterDefinitionRequest {
            definition: Some(definition.clone()),
            validate_only: false,
        })
        .await?
        .into_inner();
    Ok(registered.version)
}

/// Starts a saga of the latest order-with-stock under `key`, answering after `wait_ms`
/// (0: at its end).
pub async fn start(
    cluster: &Cluster,
    key: &str,
    input: &Value,
    wait_ms: u32,
) -> Result<pb::Saga, tonic::Status> {
    let answer = cluster
        .orchestrator()
        .start_saga(pb::StartSagaRequest {
            definition: NAME.into(),
            version: 0,
            idempotency_key: key.into(),
            input_json: input.to_string(),
            wait_ms,
        })
        .await?;
    answer
        .into_inner()
        .saga
        .ok_or_else(|| tonic::Status::internal("no saga in the answer"))
}

/// Each saga's reservation status (`HELD` or `RELEASED`), read from the participant's own
/// database (it has no read RPC: it exists for the tests only); nothing before its first
/// start.
pub async fn reservations(database: &Database) -> Result<BTreeMap<String, String>> {
    use sqlx::Connection;
    const SQL: &str = "SELECT saga_id, status FROM reservations";
    let rows: Vec<(String, String)> = match database {
        Database::Sqlite(path) if !path.is_file() => Vec::new(),
        Database::Sqlite(_) => {
            let mut conn = sqlx::SqliteConnection::connect(&database.url()).await?;
            sqlx::query_as(SQL).fetch_all(&mut conn).await?
        }
        Database::Postgres { url } => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::query_as(SQL).fetch_all(&mut conn).await?
        }
    };
    Ok(rows.into_iter().collect())
}
