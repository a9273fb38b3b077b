//! The chaos campaign: the three services as real processes on fixed loopback ports (on
//! SQLite files or PostgreSQL databases; optionally several orchestrator replicas on one
//! PostgreSQL database), sagas placed continuously while a seeded schedule kills, pauses
//! and restarts them, injects participant faults, disturbs the links through fault
//! proxies, stalls the databases, cuts their connections, makes their commits in doubt
//! through a proxy on the PostgreSQL protocol and restarts the PostgreSQL server; then
//! calm, a deliberate outage to watch the orchestrators back off, and the invariant
//! check, which also proves from the logs that no saga was driven by two replicas at
//! once, and that every saga ended within a bound of the last fault.
//!
//! [`run`] is the whole campaign, in process; `saga-chaos` is its command line.

mod campaign;
mod config;
/// CPU time of a process from `/proc`.
pub mod cpu;
mod figures;
/// The runner's own timestamped log, `chaos.log`.
pub mod journal;
/// The clients placing sagas, and their ledger.
pub mod load;
/// One service process under the campaign's control.
pub mod node;
/// Names of the processes (participants, orchestrator replicas).
pub mod node_id;
/// Which replica drove which saga, from the orchestrators' logs.
pub mod ownership;
/// The fault proxy on the PostgreSQL wire protocol (in-doubt commits, delayed replies,
/// cuts in the middle of a transaction).
pub mod pg_proxy;
/// Restarting the PostgreSQL server (`pg_ctl restart -m immediate`).
pub mod pg_server;
/// The seeded schedule.
pub mod plan;
/// The TCP fault proxy.
pub mod proxy;
mod quiesce;
/// The figures, for people or as JSON.
pub mod report;
/// How dense the schedule is.
pub mod schedule;
/// Ports, proxies, databases, nodes and clients of a campaign.
pub mod setup;
/// Random `--faults` specs per generation.
pub mod spec;
/// The nodes and proxies, and the loop that runs the plan.
pub mod stage;
/// Storage stalls (an exclusive lock held on a service's database) and cut connections.
pub mod storage;

use anyhow::{Context, Result};

pub use config::{
    ChaosConfig, Flow, IN_DOUBT_PROBABILITY, ORCHESTRATOR_LEASE_MS, OVERLAP_INTERVAL,
    OrchestratorTuning, PG_FAULT_INTERVAL, REPLICA_LEASE_MS, SERVER_RESTART_INTERVAL,
};
pub use node_id::NodeId;
pub use pg_server::PgServer;
pub use plan::Plan;
pub use report::Report;
pub use schedule::Schedule;

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
