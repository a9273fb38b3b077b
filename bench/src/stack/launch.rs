//! Starting the three services from the benchmark's own target folder: both participants
//! (supervised when faults may crash them), then one or more orchestrators, on SQLite files
//! in a fresh temporary folder or on fresh PostgreSQL databases. Built from the test
//! harness's process pieces rather than its `Cluster`, so that replicas and backends stay
//! the benchmark's own business.

use std::path::Path;
use std::process::ExitStatus;

use anyhow::{Context, Result};
use saga_tests::binaries::Binary;
use saga_tests::process::ServiceProcess;
use saga_tests::supervisor::{Launch, Participant};
use tempfile::TempDir;

use super::postgres::Databases;
use crate::config::{Backend, Config, Flow};

/// The orchestrator's own defaults, so that a started stack retries like production
/// rather than like the end-to-end tests (which retry fast to finish quickly).
const MAX_ATTEMPTS: u32 = 8;
const RETRY_BASE_MS: u64 = 50;
const RETRY_MAX_MS: u64 = 5_000;
/// Set this environment variable to keep a started stack's folder and databases.
const KEEP_ENV: &str = "SAGA_TESTS_KEEP_DIR";

/// The processes of a stack started here. Dropping it kills them all.
#[derive(Debug)]
pub struct Started {
    pub orchestrators: Vec<ServiceProcess>,
    pub orders: Participant,
    pub invoices: Participant,
    /// inventory-svc, for `--definition order-with-stock`.
    pub inventory: Option<ServiceProcess>,
    /// Databases (SQLite) and `*.log` files of the services' stderr.
    pub dir: TempDir,
    /// The services' databases on PostgreSQL.
    pub databases: Option<Databases>,
}

impl Started {
    /// Starts the stack the flags describe: participants first, then the orchestrators
    /// one after the other (the first applies the saga log's migrations). Databases
    /// created for a stack that then fails to start are dropped again.
    pub async fn start(config: &Config) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("saga-bench-")
            .tempdir()
            .context("cannot create the run's folder")?;
        let databases = match (config.backend, &config.postgres_url) {
            (Backend::Postgres, Some(server)) => Some(Databases::create(server).await?),
            (Backend::Postgres, None) => anyhow::bail!("--backend postgres needs --postgres-url"),
            (Backend::Sqlite, _) => None,
        };
        let services = spawn(config, dir.path(), databases.as_ref()).await;
        let (orders, invoices, inventory, orchestrators) = match services {
            Ok(services) => services,
            Err(e) => {
                if let Some(dbs) = &databases {
                    // What did start is killed as `services` drops; FORCE ends its sessions.
                    let _ = dbs.drop_all().await;
                }
                return Err(e);
            }
        };
        Ok(Self {
            orchestrators,
            orders,
            invoices,
            inventory,
            dir,
            databases,
        })
    }

    /// The SQLite file of the saga log (its `-wal` sits beside it), on SQLite.
    pub fn orchestrator_db(&self) -> Option<std::path::PathBuf> {
        self.databases
            .is_none()
            .then(|| self.dir.path().join("orchestrator.db"))
    }

    /// Stops everything with SIGTERM (orchestrators first) and returns each exit; then
    /// drops the PostgreSQL databases, unless `SAGA_TESTS_KEEP_DIR` asks to keep them.
    pub async fn stop(&mut self) -> Result<Vec<(&'static str, ExitStatus)>> {
        let exits = self.terminate().await;
        if std::env::var_os(KEEP_ENV).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("saga-bench: kept {}", self.dir.path().display());
            if let Some(dbs) = &self.databases {
                eprintln!(
                    "saga-bench: kept the databases {}, {}, {}",
                    dbs.orchestrator, dbs.orders, dbs.invoices
                );
            }
        } else if let Some(dbs) = &self.databases {
            // Dropped even when a service would not stop (FORCE ends its sessions).
            dbs.drop_all().await?;
        }
        exits
    }

    async fn terminate(&mut self) -> Result<Vec<(&'static str, ExitStatus)>> {
        let mut exits = Vec::new();
        for process in &mut self.orchestrators {
            exits.push((Binary::Orchestrator.name(), process.terminate().await?));
        }
        exits.push((Binary::OrdersSvc.name(), self.orders.stop().await?));
        exits.push((Binary::InvoicesSvc.name(), self.invoices.stop().await?));
        if let Some(inventory) = &mut self.inventory {
            exits.push(("inventory-svc", inventory.terminate().await?));
        }
        Ok(exits)
    }
}

type Services = (
    Participant,
    Participant,
    Option<ServiceProcess>,
    Vec<ServiceProcess>,
);

/// Spawns both participants, then the orchestrators one after the other.
async fn spawn(config: &Config, dir: &Path, databases: Option<&Databases>) -> Result<Services> {
    let telemetry = telemetry_args(config).await?;
    let url = |binary: Binary| match databases {
        Some(dbs) => match binary {
            Binary::Orchestrator => dbs.orchestrator.clone(),
            Binary::OrdersSvc => dbs.orders.clone(),
            Binary::InvoicesSvc => dbs.invoices.clone(),
            // The four-step definition runs on SQLite only (launched below).
            Binary::InventorySvc => String::new(),
        },
        None => config
            .sqlite_sync
            .url(&dir.join(format!("{}.db", binary.name()))),
    };
    let participant = |binary: Binary| -> Result<Launch> {
        Ok(Launch {
            name: binary.name(),
            binary: binary.path()?,
            args: [
                vec!["--database-url".into(), url(binary)],
                telemetry.clone(),
            ]
            .concat(),
            faults: config.faults.clone(),
            fault_seed: config.seed,
            log: dir.join(format!("{}.log", binary.name())),
        })
    };
    // A crashed participant must come back for its sagas to end.
    let supervised = config.faults.contains(":crash");
    let orders = Participant::start(participant(Binary::OrdersSvc)?, supervised).await?;
    let invoices = Participant::start(participant(Binary::InvoicesSvc)?, supervised).await?;
    let inventory = match config.definition {
        Flow::PlaceOrder => None,
        Flow::OrderWithStock => Some(
            saga_tests::stock::inventory(dir, &dir.join("inventory-svc.db"), &config.faults)
                .await?,
        ),
    };
    let binary = Binary::Orchestrator.path()?;
    let mut orchestrators = Vec::new();
    for replica in 1..=config.replicas {
        let mut args = orchestrator_args(
            config,
            &url(Binary::Orchestrator),
            [&orders.url(), &invoices.url()],
            replica,
        );
        args.extend(inventory.as_ref().map(saga_tests::stock::participant_arg));
        args.extend(telemetry.iter().cloned());
        args.extend(config.orchestrator_flags.iter().cloned());
        let log = dir.join(format!("orchestrator-{replica}.log"));
        orchestrators.push(ServiceProcess::spawn("orchestrator", &binary, &args, &log).await?);
    }
    Ok((orders, invoices, inventory, orchestrators))
}

/// The flags that turn on each service's metrics (`--metrics`) and traces (`--traces`,
/// exported to a collector started here).
async fn telemetry_args(config: &Config) -> Result<Vec<String>> {
    let mut args = Vec::new();
    if config.metrics {
        args.push("--http-listen=127.0.0.1:0".to_string());
    }
    if config.traces {
        let (_collector, endpoint) = saga_tests::collector::Collector::start().await?;
        args.push(format!("--otlp-endpoint={endpoint}"));
    }
    Ok(args)
}

fn orchestrator_args(
    config: &Config,
    database_url: &str,
    [orders, invoices]: [&str; 2],
    replica: u32,
) -> Vec<String> {
    [
        ("--listen", "127.0.0.1:0".to_string()),
        ("--database-url", database_url.to_string()),
        ("--orders-url", orders.to_string()),
        ("--invoices-url", invoices.to_string()),
        ("--call-timeout-ms", config.call_timeout_ms.to_string()),
        ("--participant-connections", config.connections.to_string()),
        ("--max-attempts", MAX_ATTEMPTS.to_string()),
        ("--retry-base-ms", RETRY_BASE_MS.to_string()),
        ("--retry-max-ms", RETRY_MAX_MS.to_string()),
        ("--replica-id", format!("bench-{replica}")),
        // Saga ids carry seeded bits: replicas draw from seeds of their own.
        (
            "--seed",
            config.seed.wrapping_add(u64::from(replica) - 1).to_string(),
        ),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_string(), value])
    .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn each_replica_has_its_own_name_and_seed() {
        let config = Config::try_parse_from(["saga-bench", "--seed", "7"]).expect("flags");
        let args = orchestrator_args(&config, "postgres://db", ["http://o", "http://i"], 3);
        let value = |flag: &str| {
            let at = args.iter().position(|a| a == flag).expect(flag);
            args[at + 1].clone()
        };
        assert_eq!(value("--replica-id"), "bench-3");
        assert_eq!(value("--seed"), "9");
        assert_eq!(value("--database-url"), "postgres://db");
        assert_eq!(value("--listen"), "127.0.0.1:0");
    }
}
