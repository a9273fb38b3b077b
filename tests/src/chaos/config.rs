//! What a campaign does, fixed by its seed and these settings, and the `saga-chaos`
//! command line that replays it.

use std::path::PathBuf;
use std::time::Duration;

use super::node_id::NodeId;
use super::pg_server::PgServer;
use super::schedule::Schedule;
use crate::backend::Backend;
use crate::pattern::Pattern;

/// The orchestrator's `--lease-ms` in a campaign with several replicas (short, so that
/// takeovers happen within a pause), unless set.
pub const REPLICA_LEASE_MS: u64 = 1_500;
/// Mean time between two restarts of the PostgreSQL server in a PostgreSQL campaign that
/// can restart it, unless set.
pub const SERVER_RESTART_INTERVAL: Duration = Duration::from_secs(25);
/// The orchestrator's own `--lease-ms` default, when a campaign does not set one.
pub const ORCHESTRATOR_LEASE_MS: u64 = 10_000;
/// Mean time between two fault windows of the database proxy in a PostgreSQL campaign,
/// unless set.
pub const PG_FAULT_INTERVAL: Duration = Duration::from_secs(6);
/// Mean time between two successions of each replica started while it is still
/// draining, in a campaign with several replicas, unless set.
pub const OVERLAP_INTERVAL: Duration = Duration::from_secs(12);
/// Chance that a `COMMIT` is made in doubt inside an in-doubt window, unless set.
pub const IN_DOUBT_PROBABILITY: f64 = 0.05;
/// Chance that a statement inside a transaction is followed by a cut inside a cut
/// window (a transaction sends a few).
pub const CUT_PROBABILITY: f64 = 0.05;
/// Mean time between two incidents of the NATS server in a campaign on the NATS event
/// path, unless set.
pub const BROKER_INTERVAL: Duration = Duration::from_secs(8);
/// The orchestrators' `--sync-interval-ms` and `--sync-page-size` in a campaign on the
/// sync path: sweeps often, in small pages, so kills land in the middle of pages.
pub const SYNC_INTERVAL_MS: u64 = 250;
pub const SYNC_PAGE_SIZE: u32 = 16;

mod replay;

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

impl OrchestratorTuning {
    /// The lease the orchestrators run with (theirs by default).
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.unwrap_or(ORCHESTRATOR_LEASE_MS))
    }

    /// How long after the last fault ended every saga must have ended: the liveness
    /// rule's bound. Once nothing is disturbed any more, an unfinished saga whose
    /// driver died has its lease run out within one lease period, and is claimed by
    /// the next periodic claim, which runs within another; its driver then waits at
    /// most the longest pause between two attempts of a step (the retry backoff's cap,
    /// or a parked step's pace, whichever is longer) and makes one call, which ends
    /// within the call timeout. A saga still unfinished after all that has no driver
    /// or a driver that does not drive: a liveness violation, however long the
    /// campaign then waits for it.
    pub fn liveness_bound(&self) -> Duration {
        let longest_pause = self.retry_max_ms.max(self.parked_retry_ms);
        self.lease().saturating_mul(2)
            + Duration::from_millis(longest_pause)
            + Duration::from_millis(self.call_timeout_ms)
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
    /// Mean time between two fault windows of the proxy on the PostgreSQL protocol in
    /// front of the server (in-doubt commits, delayed replies, cuts in the middle of a
    /// transaction; zero: no proxy at all; nothing on SQLite).
    pub pg_fault_interval: Duration,
    /// Chance that a `COMMIT` is made in doubt (committed, its reply dropped) inside an
    /// in-doubt window.
    pub in_doubt_probability: f64,
    /// Mean time between two successions of each stopped replica started before it has
    /// finished draining, under its id or a new one (zero: none; several replicas only).
    pub overlap_interval: Duration,
    /// Stop placing after this many sagas (the outage's probe sagas included)...
    pub sagas: usize,
    /// ...or after this long, whichever comes first.
    pub duration: Duration,
    /// Clients placing at once (a closed loop each).
    pub concurrency: usize,
    /// The saga definition the clients start (with the orchestrated pattern).
    pub flow: Flow,
    /// How orders get their invoices: through the orchestrator (`flow`), or placed at
    /// orders-svc and invoiced by sagas its events or the sweep start.
    pub pattern: Pattern,
    /// With a direct pattern: share of orders whose items the client changes right
    /// after placing (a new version, which must be the one invoiced)...
    pub update_share: f64,
    /// ...and share it withdraws (which must end CANCELLED without an invoice, unless
    /// invoicing confirmed it first).
    pub withdraw_share: f64,
    /// Mean time between two incidents of the NATS server (with `events-nats`).
    pub broker_interval: Duration,
    /// Share of orders over the invoice limit (they must compensate).
    pub over_limit_share: f64,
    /// Share of orders whose stock reservation is refused (they must compensate); only
    /// with [`Flow::OrderWithStock`].
    pub refused_share: f64,
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
            pg_fault_interval: PG_FAULT_INTERVAL,
            in_doubt_probability: IN_DOUBT_PROBABILITY,
            overlap_interval: Duration::ZERO,
            sagas: 1_000,
            duration: Duration::from_secs(120),
            concurrency: 8,
            flow: Flow::PlaceOrder,
            pattern: Pattern::Orchestrated,
            update_share: 0.15,
            withdraw_share: 0.1,
            broker_interval: BROKER_INTERVAL,
            over_limit_share: 0.2,
            refused_share: 0.1,
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
    /// there are several, connections cut every few seconds, the database proxy's fault
    /// windows (in-doubt commits among them) every [`PG_FAULT_INTERVAL`], overlapping
    /// successions of the replicas every [`OVERLAP_INTERVAL`], and the server restarted
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
            config.overlap_interval = OVERLAP_INTERVAL;
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
            pg_fault_interval: match self.backend {
                Backend::Sqlite => Duration::ZERO,
                Backend::Postgres { .. } => self.pg_fault_interval,
            },
            overlap_interval: match self.replicas {
                0 | 1 => Duration::ZERO,
                _ => self.overlap_interval,
            },
            replicas: self.replicas.max(1),
            lease: self.orchestrator.lease(),
            killed_replicas: self.killed_replicas.clone(),
            paused_replicas: self.paused_replicas.clone(),
            inventory: self.flow == Flow::OrderWithStock,
            broker_interval: match self.pattern {
                Pattern::EventsNats => self.broker_interval,
                _ => Duration::ZERO,
            },
        }
    }
}

/// The saga definition a campaign's (or a benchmark's) clients start; on the command
/// line and in reports by its definition's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// The built-in three-step saga, through `PlaceOrder`.
    #[default]
    PlaceOrder,
    /// The four-step example (`definitions/examples/order-with-stock.json`) over the
    /// inventory participant as well, through `StartSaga`.
    OrderWithStock,
}

impl Flow {
    /// The definition's name.
    pub fn name(self) -> &'static str {
        match self {
            Flow::PlaceOrder => "place-order",
            Flow::OrderWithStock => crate::stock::NAME,
        }
    }

    /// The participants beyond orders and invoices.
    pub fn extra_nodes(self) -> &'static [NodeId] {
        match self {
            Flow::PlaceOrder => &[],
            Flow::OrderWithStock => &[NodeId::INVENTORY],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_bound_is_two_leases_the_longest_pause_and_a_call() {
        let replicas = ChaosConfig::on_postgres(1, "postgres://u@h/db", 3).orchestrator;
        assert_eq!(
            replicas.liveness_bound(),
            Duration::from_millis(2 * REPLICA_LEASE_MS + 2_000 + 500)
        );
        let alone = OrchestratorTuning {
            retry_max_ms: 5_000,
            ..OrchestratorTuning::default()
        };
        assert_eq!(
            alone.liveness_bound(),
            Duration::from_millis(2 * ORCHESTRATOR_LEASE_MS + 5_000 + 500)
        );
    }
}
