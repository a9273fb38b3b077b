//! `saga-chaos`: runs a seeded chaos campaign against the three services (on SQLite or
//! PostgreSQL, with one orchestrator or several replicas) and exits non-zero on any
//! violation, printing the seed that replays it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use saga_tests::backend::{Backend, POSTGRES_ENV};
use saga_tests::chaos::pg_server::{BIN_ENV, DATA_ENV, LOG_ENV};
use saga_tests::chaos::{
    self, ChaosConfig, Flow, IN_DOUBT_PROBABILITY, OVERLAP_INTERVAL, OrchestratorTuning,
    PG_FAULT_INTERVAL, PgServer, REPLICA_LEASE_MS, SERVER_RESTART_INTERVAL,
};
use saga_tests::pattern::Pattern;

/// Kills, pauses and disturbs the orchestrators and their participants while sagas run,
/// then checks that nothing was lost, duplicated or left inconsistent, and that no saga
/// was driven by two replicas at once.
#[derive(Debug, Parser)]
#[command(name = "saga-chaos", version)]
struct Args {
    /// The campaign's seed (default: random). The same seed replays the same schedule.
    #[arg(long)]
    seed: Option<u64>,
    /// Where the services keep their data: a SQLite file each, or a fresh PostgreSQL
    /// database each on the server of --postgres-url.
    #[arg(long, value_enum, default_value_t = BackendArg::Sqlite)]
    backend: BackendArg,
    /// The PostgreSQL server (any database on it; the user must be allowed to create
    /// databases) for --backend postgres.
    #[arg(long, env = POSTGRES_ENV, hide_env_values = true)]
    postgres_url: Option<String>,
    /// Orchestrator processes, each on its own port with its own --replica-id, on one
    /// PostgreSQL database (more than 1 needs --backend postgres).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    replicas: u32,
    /// Only these replicas (1..=N, comma-separated) are killed and stopped (default: all).
    #[arg(long, value_delimiter = ',')]
    killed_replicas: Vec<u32>,
    /// Only these replicas (1..=N, comma-separated) are paused (default: all).
    #[arg(long, value_delimiter = ',')]
    paused_replicas: Vec<u32>,
    /// orchestrator --lease-ms (default: 1500 with several replicas, else the
    /// orchestrator's own).
    #[arg(long)]
    lease_ms: Option<u64>,
    /// Mean time between two rounds of terminating every service's PostgreSQL
    /// connection (0: none; PostgreSQL only).
    #[arg(long, default_value_t = 4_000)]
    connection_drop_interval_ms: u64,
    /// Mean time between two restarts of the PostgreSQL server itself (pg_ctl restart -m
    /// immediate: a crash and WAL recovery; 0: none; PostgreSQL only, and needs
    /// --postgres-data). Default: 25000 when the data folder is known, else 0.
    #[arg(long)]
    server_restart_interval_ms: Option<u64>,
    /// Mean time between two fault windows of the proxy on the PostgreSQL protocol that
    /// every service reaches the server through: in-doubt commits (a COMMIT committed,
    /// its reply dropped), replies held past the clients' timeouts, connections cut in
    /// the middle of a transaction, in turn (0: no proxy; PostgreSQL only).
    #[arg(long, default_value_t = PG_FAULT_INTERVAL.as_millis() as u64)]
    pg_fault_interval_ms: u64,
    /// Chance that a COMMIT is made in doubt inside an in-doubt window.
    #[arg(long, default_value_t = IN_DOUBT_PROBABILITY)]
    pg_in_doubt_probability: f64,
    /// Mean time between two successions of each stopped replica started while it is
    /// still draining after SIGTERM, under its --replica-id or a new one (0: none;
    /// default: 12000 with several replicas).
    #[arg(long)]
    overlap_interval_ms: Option<u64>,
    /// The PostgreSQL server's data folder, to restart it (scripts/postgres.sh exports it).
    #[arg(long, env = DATA_ENV)]
    postgres_data: Option<PathBuf>,
    /// The folder of the server's pg_ctl (default: pg_ctl on the PATH).
    #[arg(long, env = BIN_ENV)]
    postgres_bin: Option<PathBuf>,
    /// The file the restarted server's output is appended to (default: in its data
    /// folder).
    #[arg(long, env = LOG_ENV)]
    postgres_log: Option<PathBuf>,
    /// Stop placing after this many sagas...
    #[arg(long, default_value_t = 1_000)]
    sagas: usize,
    /// ...or after this many seconds, whichever comes first.
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
    /// Clients placing at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The saga definition the clients start: `place-order` (the built-in, through
    /// PlaceOrder) or `order-with-stock` (the four-step example over inventory-svc too,
    /// through StartSaga).
    #[arg(long, value_enum, default_value_t = Flow::PlaceOrder)]
    definition: Flow,
    /// How orders get their invoices: `orchestrated` (the clients start `--definition`
    /// through the orchestrator), or placed at orders-svc and invoiced through its
    /// outbox stream (`events`), NATS JetStream (`events-nats`: a NATS server of the
    /// campaign's own, killed and paused too) or the orchestrators' sweep (`sync`).
    #[arg(long, value_enum, default_value_t = Pattern::Orchestrated)]
    pattern: Pattern,
    /// With a direct pattern: share of orders the client changes right after placing.
    #[arg(long, default_value_t = 0.15)]
    update_share: f64,
    /// With a direct pattern: share of orders the client withdraws right after placing.
    #[arg(long, default_value_t = 0.1)]
    withdraw_share: f64,
    /// With `--pattern events-nats`: mean time between two kills or pauses of the NATS
    /// server (0: none).
    #[arg(long, default_value_t = 8_000)]
    broker_interval_ms: u64,
    /// Share of orders over the invoice limit (they must compensate).
    #[arg(long, default_value_t = 0.2)]
    over_limit_share: f64,
    /// With `--definition order-with-stock`: share of orders whose reservation is
    /// refused (they must compensate).
    #[arg(long, default_value_t = 0.1)]
    refused_share: f64,
    /// Deadline of one PlaceOrder call of the clients (then repeated with the same key).
    #[arg(long, default_value_t = 5_000)]
    client_timeout_ms: u64,
    /// PlaceOrder's wait_ms.
    #[arg(long, default_value_t = 100)]
    wait_ms: u32,
    /// Pause of each client between two keys (spreads the sagas over the duration).
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Mean time between two stops (SIGKILL or SIGTERM) of each process (0: none).
    #[arg(long, default_value_t = 5_000)]
    kill_interval_ms: u64,
    /// Share of those stops that are graceful (SIGTERM), the rest SIGKILL.
    #[arg(long, default_value_t = 0.2)]
    term_share: f64,
    /// Mean time between two SIGSTOP pauses of each process (0: none).
    #[arg(long, default_value_t = 6_000)]
    pause_interval_ms: u64,
    /// Mean time between two incidents on each proxy (0: none).
    #[arg(long, default_value_t = 3_000)]
    proxy_interval_ms: u64,
    /// Mean time between two storage stalls (an exclusive lock on its database) of each
    /// service (0: none).
    #[arg(long, default_value_t = 8_000)]
    lock_interval_ms: u64,
    /// Scale of the participants' fault probabilities (0: no --faults).
    #[arg(long, default_value_t = 1.0)]
    fault_intensity: f64,
    /// Length of the deliberate invoices-svc outage after the chaos.
    #[arg(long, default_value_t = 3_000)]
    outage_ms: u64,
    /// Sagas placed at the start of the outage (part of --sagas).
    #[arg(long, default_value_t = 8)]
    probe_sagas: usize,
    /// Longest wait for every saga to end once the faults stop.
    #[arg(long, default_value_t = 120)]
    quiesce_timeout_secs: u64,
    /// Orchestrator CPU-seconds per second of outage taken as a busy loop.
    #[arg(long, default_value_t = 0.5)]
    busy_loop_threshold: f64,
    /// Longest time while placing with no PlaceOrder answered before it is a violation.
    #[arg(long, default_value_t = 15.0)]
    stall_limit_secs: f64,
    /// invoices-svc --max-invoice-cents.
    #[arg(long, default_value_t = 1_000_000)]
    max_invoice_cents: i64,
    /// orchestrator --call-timeout-ms.
    #[arg(long, default_value_t = 500)]
    call_timeout_ms: u64,
    /// orchestrator --max-attempts.
    #[arg(long, default_value_t = 8)]
    max_attempts: u32,
    /// orchestrator --retry-base-ms.
    #[arg(long, default_value_t = 20)]
    retry_base_ms: u64,
    /// orchestrator --retry-max-ms.
    #[arg(long, default_value_t = 500)]
    retry_max_ms: u64,
    /// orchestrator --parked-retry-ms.
    #[arg(long, default_value_t = 2_000)]
    parked_retry_ms: u64,
    /// Restart the orchestrator with the same --seed every time (default: a new one per
    /// restart, derived from --seed).
    #[arg(long)]
    same_orchestrator_seed: bool,
    /// A further orchestrator flag, passed as is (repeatable), e.g. --orchestrator-arg=--saga-timeout-ms=5000.
    #[arg(long, allow_hyphen_values = true)]
    orchestrator_arg: Vec<String>,
    /// Folder of the service binaries (default: next to this executable).
    #[arg(long, env = "SAGA_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// Keep the campaign folder even when it passes.
    #[arg(long)]
    keep_dir: bool,
    /// Print the report as JSON on stdout (the seed and progress then go to stderr).
    #[arg(long)]
    json: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

impl Args {
    fn backend(&self) -> Result<Backend, String> {
        match (self.backend, &self.postgres_url) {
            (BackendArg::Sqlite, _) if self.replicas > 1 => {
                Err("several replicas need --backend postgres".into())
            }
            (BackendArg::Sqlite, _) => Ok(Backend::Sqlite),
            (BackendArg::Postgres, _)
                if self.server_restart_interval_ms.unwrap_or(0) > 0
                    && self.postgres_data.is_none() =>
            {
                Err(format!(
                    "--server-restart-interval-ms needs the server's data folder: --postgres-data or {DATA_ENV}"
                ))
            }
            (BackendArg::Postgres, Some(url)) if !url.trim().is_empty() => Ok(Backend::Postgres {
                server_url: url.clone(),
            }),
            (BackendArg::Postgres, _) => Err(format!(
                "--backend postgres needs a server: --postgres-url or {POSTGRES_ENV}"
            )),
        }
    }

    /// How to restart the PostgreSQL server, when its data folder is known.
    fn postgres_server(&self) -> Option<PgServer> {
        Some(PgServer {
            data: self.postgres_data.clone()?,
            bin: self.postgres_bin.clone(),
            log: self.postgres_log.clone(),
        })
    }

    fn config(&self, seed: u64, backend: Backend) -> ChaosConfig {
        let postgres_server = self.postgres_server();
        let server_restart_interval = match (self.server_restart_interval_ms, &postgres_server) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, Some(_)) => SERVER_RESTART_INTERVAL,
            (None, None) => Duration::ZERO,
        };
        let lease_ms = match self.lease_ms {
            Some(ms) => Some(ms),
            None if self.replicas > 1 => Some(REPLICA_LEASE_MS),
            None => None,
        };
        ChaosConfig {
            backend,
            replicas: self.replicas,
            killed_replicas: self.killed_replicas.clone(),
            paused_replicas: self.paused_replicas.clone(),
            connection_drop_interval: Duration::from_millis(self.connection_drop_interval_ms),
            server_restart_interval,
            postgres_server,
            pg_fault_interval: Duration::from_millis(self.pg_fault_interval_ms),
            in_doubt_probability: self.pg_in_doubt_probability.clamp(0.0, 1.0),
            overlap_interval: match (self.overlap_interval_ms, self.replicas) {
                (Some(ms), _) => Duration::from_millis(ms),
                (None, 0 | 1) => Duration::ZERO,
                (None, _) => OVERLAP_INTERVAL,
            },
            call_timeout: Duration::from_millis(self.client_timeout_ms),
            sagas: self.sagas,
            duration: Duration::from_secs_f64(self.duration.max(0.0)),
            concurrency: self.concurrency,
            flow: self.definition,
            pattern: self.pattern,
            update_share: self.update_share,
            withdraw_share: self.withdraw_share,
            broker_interval: Duration::from_millis(self.broker_interval_ms),
            over_limit_share: self.over_limit_share,
            refused_share: self.refused_share,
            wait_ms: self.wait_ms,
            think: Duration::from_millis(self.think_ms),
            kill_interval: Duration::from_millis(self.kill_interval_ms),
            term_share: self.term_share,
            pause_interval: Duration::from_millis(self.pause_interval_ms),
            proxy_interval: Duration::from_millis(self.proxy_interval_ms),
            lock_interval: Duration::from_millis(self.lock_interval_ms),
            fault_intensity: self.fault_intensity,
            outage: Duration::from_millis(self.outage_ms),
            probe_sagas: self.probe_sagas,
            quiesce_timeout: Duration::from_secs(self.quiesce_timeout_secs),
            busy_loop_threshold: self.busy_loop_threshold,
            stall_limit: Duration::from_secs_f64(self.stall_limit_secs.max(0.0)),
            max_invoice_cents: self.max_invoice_cents,
            orchestrator: OrchestratorTuning {
                call_timeout_ms: self.call_timeout_ms,
                max_attempts: self.max_attempts,
                retry_base_ms: self.retry_base_ms,
                retry_max_ms: self.retry_max_ms,
                parked_retry_ms: self.parked_retry_ms,
                lease_ms,
                same_seed_every_start: self.same_orchestrator_seed,
                extra_args: self.orchestrator_arg.clone(),
            },
            bin_dir: self.bin_dir.clone(),
            keep_dir: self.keep_dir,
            verbose: !self.quiet,
            ..ChaosConfig::new(seed)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let backend = match args.backend() {
        Ok(backend) => backend,
        Err(why) => {
            eprintln!("saga-chaos: {why}");
            return ExitCode::from(2);
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    match args.json {
        true => eprintln!("seed: {seed}"),
        false => println!("seed: {seed}"),
    }
    let config = args.config(seed, backend);
    let replay = config.replay_command();
    match chaos::run(config).await {
        Ok(report) if args.json => match serde_json::to_string_pretty(&report) {
            Ok(json) => {
                println!("{json}");
                exit_code(report.passed(), seed, &replay)
            }
            Err(e) => {
                eprintln!("cannot write the report as JSON: {e}");
                ExitCode::from(2)
            }
        },
        Ok(report) => {
            print!("{report}");
            exit_code(report.passed(), seed, &replay)
        }
        Err(e) => {
            eprintln!("saga-chaos failed: {e:#}\nseed: {seed}\nreplay: {replay}");
            ExitCode::from(2)
        }
    }
}

fn exit_code(passed: bool, seed: u64, replay: &str) -> ExitCode {
    if passed {
        return ExitCode::SUCCESS;
    }
    eprintln!("VIOLATIONS with seed {seed}; replay: {replay}");
    ExitCode::FAILURE
}
