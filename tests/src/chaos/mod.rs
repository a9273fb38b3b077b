//! The chaos campaign: the three services as real processes on fixed loopback ports,
//! sagas placed continuously while a seeded schedule kills, pauses and restarts them,
//! injects participant faults and disturbs the links through fault proxies; then calm, a
//! deliberate outage to watch the orchestrator back off, and the invariant check.
//!
//! [`run`] is the whole campaign, in process; `saga-chaos` is its command line.

mod campaign;
/// CPU time of a process from `/proc`.
pub mod cpu;
mod figures;
/// The runner's own timestamped log, `chaos.log`.
pub mod journal;
/// The clients placing sagas, and their ledger.
pub mod load;
/// One service process under the campaign's control.
pub mod node;
/// The seeded schedule.
pub mod plan;
/// The TCP fault proxy.
pub mod proxy;
mod quiesce;
/// The figures, for people or as JSON.
pub mod report;
/// Ports, proxies, nodes and clients of a campaign.
pub mod setup;
/// Random `--faults` specs per generation.
pub mod spec;
/// The nodes and proxies, and the loop that runs the plan.
pub mod stage;
/// Storage stalls: an exclusive lock held on a service's database.
pub mod storage;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

pub use plan::{Plan, Schedule};
pub use report::Report;

/// How the orchestrator is tuned for a campaign (its own flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchestratorTuning {
    pub call_timeout_ms: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub parked_retry_ms: u64,
    /// Restart the orchestrator with the same `--seed` every time (default: a new seed
    /// per generation, derived from the campaign's).
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

    /// The schedule's density.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            duration: self.duration,
            kill_interval: self.kill_interval,
            term_share: self.term_share,
            pause_interval: self.pause_interval,
            proxy_interval: self.proxy_interval,
            lock_interval: self.lock_interval,
        }
    }

    /// The `saga-chaos` command that replays this campaign.
    pub fn replay_command(&self) -> String {
        let o = &self.orchestrator;
        format!(
            "saga-chaos --seed {} --sagas {} --duration {} --concurrency {} --over-limit-share {} \
             --wait-ms {} --think-ms {} --kill-interval-ms {} --term-share {} --pause-interval-ms {} --proxy-interval-ms {} --lock-interval-ms {} \
             --fault-intensity {} --outage-ms {} --probe-sagas {} --stall-limit-secs {} --call-timeout-ms {} \
             --max-attempts {} --retry-base-ms {} --retry-max-ms {} --parked-retry-ms {}{}{}",
            self.seed,
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

/// Runs a whole campaign and reports its figures and violations. An `Err` means the
/// campaign itself could not run (a binary missing, a process that will not start); the
/// folder is then kept and named in the error.
pub async fn run(config: ChaosConfig) -> Result<Report> {
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("saga-chaos-{}-", config.seed))
        .tempdir()
        .context("cannot create the campaign folder")?;
    let path = dir.path().to_path_buf();
    let outcome = campaign::run(&config, &path).await;
    let keep = config.keep_dir || !matches!(&outcome, Ok(report) if report.passed());
    if keep {
        dir.disable_cleanup(true);
    }
    let mut report = outcome.with_context(|| {
        format!(
            "the campaign with seed {} could not run; its folder is kept at {}",
            config.seed,
            path.display()
        )
    })?;
    report.kept_dir = keep;
    Ok(report)
}

/// Progress for people watching, on stderr, when asked for.
fn say(config: &ChaosConfig, line: &str) {
    if config.verbose {
        eprintln!("[saga-chaos] {line}");
    }
}
