//! `saga-bench patterns`: the same workload through each way this system keeps orders
//! and invoices consistent (the orchestrated request, events from orders-svc's outbox
//! over its own stream and over NATS JetStream, and the background sweep), measured side
//! by side: how long placing an order takes the client, how long until order and invoice
//! agree, throughput, CPU per order, and how each rides out invoices-svc paused mid-run.

mod drive;
mod report;
mod watch;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use saga_tests::nats::NatsServer;
pub use saga_tests::pattern::Pattern;
use saga_tests::{Cluster, ClusterOptions};

pub use report::{PatternResult, Report};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct PatternsConfig {
    /// Orders placed per pattern in the steady phase.
    #[arg(long, default_value_t = 2_000)]
    pub orders: u64,
    /// Clients placing orders at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// How long invoices-svc is paused (SIGSTOP) in the outage phase; 0 skips the phase.
    #[arg(long, default_value_t = 10)]
    pub outage_secs: u64,
    /// Orders placed per pattern in the outage phase.
    #[arg(long, default_value_t = 1_000)]
    pub outage_orders: u64,
    /// The sweep's `--sync-interval-ms`.
    #[arg(long, default_value_t = 1_000)]
    pub sync_interval_ms: u64,
    /// The patterns to run, in order (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub patterns: Vec<Pattern>,
    /// Also write the table (`patterns.md`) and the plot (`patterns.svg`) into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs every asked pattern, one fresh stack each, on SQLite.
pub async fn run(config: &PatternsConfig) -> Result<Report> {
    let patterns = match config.patterns.is_empty() {
        true => Pattern::ALL.to_vec(),
        false => config.patterns.clone(),
    };
    let mut results = Vec::new();
    for pattern in patterns {
        eprintln!("saga-bench patterns: {} …", pattern.label());
        results.push(run_one(config, pattern).await?);
    }
    Ok(Report::new(config, results))
}

async fn run_one(config: &PatternsConfig, pattern: Pattern) -> Result<PatternResult> {
    let nats = match pattern {
        Pattern::EventsNats => match NatsServer::start().await? {
            Some(server) => Some(server),
            None => bail!("the NATS pattern needs nats-server (Debian's package nats-server)"),
        },
        _ => None,
    };
    let cluster = Cluster::start(options(config, pattern, nats.as_ref())).await?;
    let steady = drive::phase(&cluster, pattern, config, config.orders, None).await?;
    let outage = match config.outage_secs {
        0 => None,
        secs => {
            let pause = Duration::from_secs(secs);
            Some(drive::phase(&cluster, pattern, config, config.outage_orders, Some(pause)).await?)
        }
    };
    let mut cluster = cluster;
    cluster.stop().await?;
    Ok(PatternResult {
        pattern,
        steady,
        outage,
    })
}

/// The stack of one pattern, retrying like production (the orchestrator's defaults).
fn options(config: &PatternsConfig, pattern: Pattern, nats: Option<&NatsServer>) -> ClusterOptions {
    let mut options = ClusterOptions {
        call_timeout_ms: 2_000,
        retry_base_ms: 50,
        retry_max_ms: 5_000,
        log_tails_on_drop: false,
        ..Default::default()
    };
    let trigger = pattern.invoice_trigger();
    options = options
        .orchestrator_arg(format!("--invoice-trigger={trigger}"))
        .orchestrator_arg(format!("--sync-interval-ms={}", config.sync_interval_ms));
    match nats {
        Some(server) => options.nats_url(server.url()),
        None => options,
    }
}
