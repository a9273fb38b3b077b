//! What a campaign does, fixed by its seed and these settings, and the `saga-chaos`
//! command line that replays it.

use std::path::PathBuf;
use std::time::Duration;

use super::pg_server::PgServer;
use super::schedule::Schedule;
use crate::backend::Backend;

/// The orchestrator's `--lease-ms` in a campaign with several replicas (short, so that
/// takeovers happen within a pause), unless set.
pub const REPLICA_LEASE_MS: u64 = 1_500;
/// Mean time between two restarts of the PostgreSQL server in a PostgreSQL campaign that
/// can restart it, unless set.
pub const SERVER_RESTART_INTERVAL: Duration = Duration::from_secs(25);

/// How the orchestrator is tuned for a campaign (its own flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchestratorTuning {
    pub call_timeout_ms: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub parked_retry_ms: u64,
    /// `--lease-ms` (`None`: the orchestrator's default).
    pub lease_ms: Option<u64>,
    /// Restart an orchestrator with the same `--seed` every time (default: a new seed
    /// per generation, derived from the campaign's and the replica's).
    pub same_seed_every_start: bool,
    /// Further flags, passed as they are.
    pub extra_args: Vec<String>,
}

impl Default for OrchestratorTuning {
    fn default() -> Self {
        Self {
            call_timeout_ms: 500,
            max_attempts: 8,
            retry_base_ms: 20,
            retry_max_ms: 500,
            parked_retry_ms: 2_000,
            lease_ms: None,
            same_seed_every_start: false,
            extra_args: Vec::new(),
        }
    }
}

/// Everything a campaign does, fixed by its seed and these settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosConfig {
    /// The one seed every random choice derives from.
    pub seed: u64,
    /// Where the services keep their data (a fresh database each).
    pub backend: Backend,
    /// Orchestrator processes: 1, or several replicas on one PostgreSQL database, each
    /// on its own port with its own `--replica-id`.
    pub replicas: u32,
    /// The replicas (1..=N) that are killed and stopped (empty: all).
    pub killed_replicas: Vec<u32>,
    /// The replicas (1..=N) that are paused (empty: all).
    pub paused_replicas: Vec<u32>,
    /// Mean time between two rounds of terminating every service's PostgreSQL
    /// connection (zero: none; nothing on SQLite).
    pub connection_drop_interval: Duration,
    /// Mean time between two restarts of the PostgreSQL server (zero: none; nothing on
    /// SQLite or without `postgres_server`).
    pub server_restart_interval: Duration,
    /// How to restart the PostgreSQL server (`None`: it is never restarted).
    pub postgres_server: Option<PgServer>,
    /// Stop placing after this many sagas (the outage's probe sagas included)...
    pub sagas: usize,
    /// ...or after this long, whichever comes first.
    pub duration: Duration,
    /// Clients placing at once (a closed loop each).
    pub concurrency: usize,
    /// Share of orders over the invoice limit (they must compensate).
    pub over_limit_share: f64,
    /// PlaceOrder's `wait_ms`: small, so clients go on while sagas run.
    pub wait_ms: u32,
    /// Deadline of one PlaceOrder call.
    pub call_timeout: Duration,
    /// Pause of each client between two keys.
    pub think: Duration,
    /// Mean time between two stops of each process (zero: none)...
    pub kill_interval: Duration,
    /// ...of which this share are SIGTERM (graceful), the rest SIGKILL.
    pub term_share: f64,
    /// Mean time between two SIGSTOP pauses of each process (zero: none).
    pub pause_interval: Duration,
    /// Mean time between two incidents on each proxy (zero: none).
    pub proxy_interval: Duration,
    /// Mean time between two storage stalls (an exclusive lock held on its SQLite file)
    /// of each service (zero: none).
    pub lock_interval: Duration,
    /// Scale of the participants' fault probabilities (zero: no `--faults`).
    pub fault_intensity: f64,
    /// Length of the deliberate outage of `invoices-svc` after the chaos.
    pub outage: Duration,
    /// Sagas placed at the start of the outage (part of `sagas`), so it has work to retry.
    pub probe_sagas: usize,
    /// Longest wait for every saga to end once faults stop.
    pub quiesce_timeout: Duration,
    /// Orchestrator CPU seconds per second of outage above which it is taken to spin.
    pub busy_loop_threshold: f64,
    /// Longest time while placing with no PlaceOrder answered before it is a violation
    /// (kills, pauses and restarts cause short ones).
    pub stall_limit: Duration,
    /// `invoices-svc --max-invoice-cents`.
    pub max_invoice_cents: i64,
    pub orchestrator: OrchestratorTuning,
    /// Where the service binaries are (default: next to this executable).
    pub bin_dir: Option<PathBuf>,
    /// Keep the folder even when the campaign passes.
    pub keep_dir: bool,
    /// Print progress on stderr.
    pub verbose: bool,
}

impl ChaosConfig {
    /// The defaults: a few minutes' campaign of moderate intensity.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            backend: Backend::Sqlite,
            replicas: 1,
            killed_replicas: Vec::new(),
            paused_replicas: Vec::new(),
            connection_drop_interval: Duration::ZERO,
            server_restart_interval: Duration::ZERO,
            postgres_server: None,
            sagas: 1_000,
            duration: Duration::from_secs(120),
            concurrency: 8,
            over_limit_share: 0.2,
            wait_ms: 100,
            call_timeout: Duration::from_secs(5),
            think: Duration::ZERO,
            kill_interval: Duration::from_secs(5),
            term_share: 0.2,
            pause_interval: Duration::from_secs(6),
            proxy_interval: Duration::from_secs(3),
            lock_interval: Duration::from_secs(8),
            fault_intensity: 1.0,
            outage: Duration::from_secs(3),
            probe_sagas: 8,
            quiesce_timeout: Duration::from_secs(120),
            busy_loop_threshold: 0.5,
            stall_limit: Duration::from_secs(15),
            max_invoice_cents: 1_000_000,
            orchestrator: OrchestratorTuning::default(),
            bin_dir: None,
            keep_dir: false,
            verbose: false,
        }
    }

    /// The defaults on `backend`: [`ChaosConfig::new`] on SQLite (one orchestrator),
    /// [`ChaosConfig::on_postgres`] on PostgreSQL.
    pub fn on_backend(seed: u64, backend: &Backend, replicas: u32) -> Self {
        match backend {
            Backend::Sqlite => Self::new(seed),
            Backend::Postgres { server_url } => Self::on_postgres(seed, server_url, replicas),
        }
    }

    /// The defaults on PostgreSQL with `replicas` orchestrators: a short lease when
    /// there are several, connections cut every few seconds, and the server restarted
    /// every [`SERVER_RESTART_INTERVAL`] when the environment says how
    /// ([`PgServer::from_env`]).
    pub fn on_postgres(seed: u64, server_url: &str, replicas: u32) -> Self {
        let mut config = Self::new(seed);
        config.backend = Backend::Postgres {
            server_url: server_url.to_string(),
        };
        config.replicas = replicas.max(1);
        config.connection_drop_interval = Duration::from_secs(4);
        config.postgres_server = PgServer::from_env();
        if config.postgres_server.is_some() {
            config.server_restart_interval = SERVER_RESTART_INTERVAL;
        }
        if replicas > 1 {
            config.orchestrator.lease_ms = Some(REPLICA_LEASE_MS);
        }
        config
    }

    /// The schedule's density.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            duration: self.duration,
            kill_interval: self.kill_interval,
            term_share: self.term_share,
            pause_interval: self.pause_interval,
            proxy_interval: self.proxy_interval,
            lock_interval: self.lock_interval,
            connection_drop_interval: match self.backend {
                Backend::Sqlite => Duration::ZERO,
                Backend::Postgres { .. } => self.connection_drop_interval,
            },
            server_restart_interval: match (&self.backend, &self.postgres_server) {
                (Backend::Postgres { .. }, Some(_)) => self.server_restart_interval,
                _ => Duration::ZERO,
            },
            replicas: self.replicas.max(1),
            lease: Duration::from_millis(self.orchestrator.lease_ms.unwrap_or(10_000)),
            killed_replicas: self.killed_replicas.clone(),
            paused_replicas: self.paused_replicas.clone(),
        }
    }

    /// The `saga-chaos` command that replays this campaign (a PostgreSQL server is
    /// named by `SAGA_TEST_POSTGRES_URL` or `--postgres-url`, and its data folder by
    /// `SAGA_TEST_POSTGRES_DATA` or `--postgres-data`, left out here).
    pub fn replay_command(&self) -> String {
        let o = &self.orchestrator;
        let list = |replicas: &[u32]| -> String {
            replicas
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut backend = format!("--backend {}", self.backend.name());
        if self.backend != Backend::Sqlite {
            backend.push_str(&format!(
                " --replicas {} --connection-drop-interval-ms {} --server-restart-interval-ms {}",
                self.replicas,
                self.connection_drop_interval.as_millis(),
                self.schedule().server_restart_interval.as_millis()
            ));
        }
        if !self.killed_replicas.is_empty() {
            backend.push_str(&format!(
                " --killed-replicas {}",
                list(&self.killed_replicas)
            ));
        }
        if !self.paused_replicas.is_empty() {
            backend.push_str(&format!(
                " --paused-replicas {}",
                list(&self.paused_replicas)
            ));
        }
        if let Some(lease_ms) = o.lease_ms {
            backend.push_str(&format!(" --lease-ms {lease_ms}"));
        }
        format!(
            "saga-chaos {backend} --seed {} --client-timeout-ms {} --sagas {} --duration {} --concurrency {} --over-limit-share {} \
             --wait-ms {} --think-ms {} --kill-interval-ms {} --term-share {} --pause-interval-ms {} --proxy-interval-ms {} --lock-interval-ms {} \
             --fault-intensity {} --outage-ms {} --probe-sagas {} --stall-limit-secs {} --call-timeout-ms {} \
             --max-attempts {} --retry-base-ms {} --retry-max-ms {} --parked-retry-ms {}{}{}",
            self.seed,
            self.call_timeout.as_millis(),
            self.sagas,
            self.duration.as_secs_f64(),
            self.concurrency,
            self.over_limit_share,
            self.wait_ms,
            self.think.as_millis(),
            self.kill_interval.as_millis(),
            self.term_share,
            self.pause_interval.as_millis(),
            self.proxy_interval.as_millis(),
            self.lock_interval.as_millis(),
            self.fault_intensity,
            self.outage.as_millis(),
            self.probe_sagas,
            self.stall_limit.as_secs_f64(),
            o.call_timeout_ms,
            o.max_attempts,
            o.retry_base_ms,
            o.retry_max_ms,
            o.parked_retry_ms,
            if o.same_seed_every_start {
                " --same-orchestrator-seed"
            } else {
                ""
            },
            o.extra_args
                .iter()
                .map(|a| format!(" --orchestrator-arg={a}"))
                .collect::<String>(),
        )
    }
}
