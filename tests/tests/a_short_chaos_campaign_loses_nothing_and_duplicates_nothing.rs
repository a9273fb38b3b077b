//! A short seeded chaos campaign: a few hundred sagas while every process is killed,
//! stopped and paused, its database is locked for a while, the participants inject every
//! kind of fault and the proxies delay, reset and black-hole the links (and, on
//! PostgreSQL, every database connection is cut now and then, and the server itself is
//! restarted when `SAGA_TEST_POSTGRES_DATA` says where it lives). Afterwards no saga is
//! lost, none is duplicated, every one is consistent across the services with a
//! well-formed log, the orchestrator kept answering, and it did not spin while a
//! participant was down.

use std::time::Duration;

use anyhow::Result;
use saga_tests::chaos::pg_server::DATA_ENV;
use saga_tests::chaos::report::assert_all_happened;
use saga_tests::chaos::{self, ChaosConfig};
use saga_tests::{Backend, on_every_backend};

/// Fixed, so a failure replays with `saga-chaos` and the report's `replay` command.
const SEED: u64 = 20_261_127;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_chaos_campaign_loses_nothing_and_duplicates_nothing() -> Result<()> {
    on_every_backend(campaign).await
}

async fn campaign(backend: Backend) -> Result<()> {
    let config = ChaosConfig {
        sagas: 300,
        duration: Duration::from_secs(45),
        concurrency: 4,
        think: Duration::from_millis(250),
        kill_interval: Duration::from_secs(3),
        pause_interval: Duration::from_secs(4),
        proxy_interval: Duration::from_secs(2),
        quiesce_timeout: Duration::from_secs(40),
        // The first restart falls 5 to 15 s in, well before placing ends.
        server_restart_interval: Duration::from_secs(10),
        verbose: true,
        ..ChaosConfig::on_backend(SEED, &backend, 1)
    };
    let restarts_server = !config.schedule().server_restart_interval.is_zero();
    if backend != Backend::Sqlite && !restarts_server {
        eprintln!("== {DATA_ENV} is not set: the PostgreSQL server is not restarted (SKIPPED)");
    }
    let report = chaos::run(config).await?;
    eprintln!("{report}");

    // Placing stops at 300 sagas or 45 s, whichever comes first (a busy machine is slower).
    report.assert_clean(100);
    let orchestrator = &report.processes["orchestrator"];
    let happened = [
        (
            "participant faults fired",
            report.faults.fired.values().sum::<u64>(),
        ),
        ("proxy incidents", report.faults_injected()),
        ("kills", report.kills()),
        ("orchestrator kills", orchestrator.kills),
        ("pauses", report.pauses()),
        ("graceful stops", report.graceful_stops()),
        (
            "storage stalls",
            report.processes.values().map(|p| p.storage_stalls).sum(),
        ),
        (
            "attempts resumed after a restart",
            report.sagas.resumed_attempts as u64,
        ),
        ("over-limit sagas", report.sagas.over_limit as u64),
        ("compensated sagas", report.sagas.compensated as u64),
        (
            "database connections cut (PostgreSQL)",
            match backend {
                Backend::Sqlite => 1,
                Backend::Postgres { .. } => report.connection_drops.terminated,
            },
        ),
        (
            "database server restarts (PostgreSQL, when it can be restarted)",
            match restarts_server {
                true => report.server_restarts.restarts,
                false => 1,
            },
        ),
    ];
    assert_all_happened(&happened);
    Ok(())
}
