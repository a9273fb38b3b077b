//! The whole stack in one process, for a first run and for demos.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use orchestrator::invoicing::Trigger;

use crate::client;

/// Flags of `saga up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Folder of the three SQLite files.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// The orchestrator's address; the participants take the next two ports.
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Largest invoice the invoices service accepts.
    #[arg(long, default_value_t = invoices_svc::config::DEFAULT_MAX_INVOICE_CENTS)]
    max_invoice_cents: i64,
    /// How orders placed at orders-svc directly (`saga order`) get their invoices:
    /// `events` (its outbox events), `sync` (a sweep) or `off`.
    #[arg(long, value_enum, default_value_t = Trigger::Events)]
    invoice_trigger: Trigger,
    /// A NATS server with JetStream for the events (absent: orders-svc's own stream).
    #[arg(long, env = "NATS_URL")]
    nats_url: Option<String>,
    /// Pause between two sweeps of `--invoice-trigger sync`.
    #[arg(long, default_value_t = 1_000)]
    sync_interval_ms: u64,
    /// Where the orchestrator serves the operators' web page and `/metrics` (port 0 picks
    /// a free port; `off`: no HTTP listener).
    #[arg(long, env = "HTTP_LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    http_listen: String,
}

/// How the orchestrator in `saga up` invoices orders placed directly.
#[derive(Debug, Clone)]
struct Invoicing {
    trigger: Trigger,
    nats_url: Option<String>,
    sync_interval_ms: u64,
}

/// Flags of `saga demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder of the three SQLite files (a fresh one is best).
    #[arg(long, default_value = "data/demo")]
    data: PathBuf,
}

/// A running stack.
struct Stack {
    orchestrator: SocketAddr,
    /// The orchestrator's HTTP listener (the web page), when it has one.
    http: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    service_kit::telemetry::init_text();
    let shutdown = service_kit::shutdown::on_signal()?;
    let ports = [
        args.listen.port(),
        next_port(args.listen, 1),
        next_port(args.listen, 2),
    ];
    let invoicing = Invoicing {
        trigger: args.invoice_trigger,
        nats_url: args.nats_url,
        sync_interval_ms: args.sync_interval_ms,
    };
    let http_listen = Some(args.http_listen).filter(|addr| addr != "off");
    if http_listen.is_some() {
        // Before anything is counted: what is counted without a recorder is lost.
        service_kit::http::metrics();
    }
    let stack = start(
        &args.data,
        args.listen.ip(),
        ports,
        args.max_invoice_cents,
        invoicing,
        http_listen,
        shutdown,
    )
    .await?;
    println!("orchestrator listening on {}", stack.orchestrator);
    if let Some(http) = stack.http {
        println!("web page at http://{http}/");
    }
    println!("saga logs in {}; Ctrl-C stops", args.data.display());
    stack.wait().await
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let localhost = [127, 0, 0, 1].into();
    let stack = start(
        &args.data,
        localhost,
        [0, 0, 0],
        1_000_000,
        Invoicing {
            trigger: Trigger::Off,
            nats_url: None,
            sync_interval_ms: 1_000,
        },
        None,
        shutdown.clone(),
    )
    .await?;
    let url = format!("http://{}", stack.orchestrator);
    for (label, unit_price_cents) in [
        ("an order", 1_999),
        ("an order over the invoice limit", 600_000),
    ] {
        println!("== placing {label}");
        let saga = client::place_demo_order(&url, unit_price_cents).await?;
        println!("{}", crate::render::saga(&saga));
    }
    shutdown.cancel();
    stack.wait().await
}

async fn start(
    data: &Path,
    ip: std::net::IpAddr,
    [orchestrator_port, orders_port, invoices_port]: [u16; 3],
    max_invoice_cents: i64,
    invoicing: Invoicing,
    http_listen: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<Stack> {
    let db = |name: &str| format!("sqlite://{}", data.join(format!("{name}.db")).display());
    let orders = orders_svc::App::build(orders_svc::Config {
        listen: SocketAddr::new(ip, orders_port).to_string(),
        database_url: db("orders"),
        nats_url: invoicing.nats_url.clone(),
        ..Default::default()
    })
    .await
    .context("starting orders-svc")?;
    let invoices = invoices_svc::App::build(invoices_svc::Config {
        listen: SocketAddr::new(ip, invoices_port).to_string(),
        database_url: db("invoices"),
        max_invoice_cents,
        ..Default::default()
    })
    .await
    .context("starting invoices-svc")?;
    let mut config = orchestrator::config::Config::local(
        &SocketAddr::new(ip, orchestrator_port).to_string(),
        &db("orchestrator"),
        &format!("http://{}", orders.local_addr()),
        &format!("http://{}", invoices.local_addr()),
    );
    config.invoice_trigger = invoicing.trigger;
    config.nats_url = invoicing.nats_url;
    config.sync_interval_ms = invoicing.sync_interval_ms;
    config.http_listen = http_listen;
    let orchestrator = orchestrator::startup::App::build(config)
        .await
        .context("starting the orchestrator")?;
    let orchestrator_addr = orchestrator.local_addr();
    let http = orchestrator.http_addr();
    let (s1, s2, s3) = (shutdown.clone(), shutdown.clone(), shutdown.clone());
    let tasks = vec![
        tokio::spawn(async move { Ok(orders.run_until(s1).await?) }),
        tokio::spawn(async move { Ok(invoices.run_until(s2).await?) }),
        tokio::spawn(async move { Ok(orchestrator.run_until(s3).await?) }),
    ];
    Ok(Stack {
        orchestrator: orchestrator_addr,
        http,
        shutdown,
        tasks,
    })
}

impl Stack {
    /// Waits for all three services; the first failure stops the others.
    async fn wait(self) -> anyhow::Result<()> {
        let mut result = Ok(());
        for task in self.tasks {
            let outcome = task.await.context("service task panicked").and_then(|r| r);
            if let Err(error) = outcome {
                self.shutdown.cancel();
                result = result.and(Err(error));
            }
        }
        result
    }
}

fn next_port(addr: SocketAddr, offset: u16) -> u16 {
    match addr.port() {
        0 => 0,
        port => port.saturating_add(offset),
    }
}
