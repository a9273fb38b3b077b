//! A short seeded chaos campaign with three orchestrator replicas on one PostgreSQL
//! database (a 1.5 s lease): the clients spread PlaceOrder over the replicas and repeat a
//! failed call on another one with the same key, while replicas are killed, stopped and
//! paused (some past their lease, so the others take their sagas over) and succeeded by a
//! new process while they still drain (under their id or a new one), the participants
//! fault, the links misbehave, the databases stall and every database connection is cut
//! now and then (and the server itself is restarted when `SAGA_TEST_POSTGRES_DATA` says
//! where it lives). Afterwards nothing is lost or duplicated, every saga is consistent
//! across the services, and no saga's log shows two drivers at once (no double step, no
//! gap, no write stamped before the one it follows).
//!
//! Needs PostgreSQL: skipped (and says so) when `SAGA_TEST_POSTGRES_URL` is not set.

use std::time::Duration;

use anyhow::Result;
use saga_tests::backend::{Backend, POSTGRES_ENV};
use saga_tests::chaos::pg_server::DATA_ENV;
use saga_tests::chaos::report::assert_all_happened;
use saga_tests::chaos::{self, ChaosConfig};

/// Fixed, so a failure replays with `saga-chaos --backend postgres --replicas 3`.
const SEED: u64 = 20_261_128;
const REPLICAS: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_paused_replicas_sagas_are_taken_over_and_never_driven_twice() -> Result<()> {
    let Some(Backend::Postgres { server_url }) = Backend::postgres_from_env() else {
        eprintln!("SKIPPED: {POSTGRES_ENV} is not set, and several replicas need PostgreSQL");
        return Ok(());
    };
    let config = ChaosConfig {
        sagas: 300,
        duration: Duration::from_secs(30),
        concurrency: 6,
        think: Duration::from_millis(200),
        kill_interval: Duration::from_secs(4),
        pause_interval: Duration::from_secs(4),
        proxy_interval: Duration::from_secs(3),
        lock_interval: Duration::from_secs(10),
        connection_drop_interval: Duration::from_secs(3),
        overlap_interval: Duration::from_secs(6),
        quiesce_timeout: Duration::from_secs(40),
        verbose: true,
        ..ChaosConfig::on_postgres(SEED, &server_url, REPLICAS)
    };
    if config.postgres_server.is_none() {
        eprintln!("== {DATA_ENV} is not set: the PostgreSQL server is not restarted (SKIPPED)");
    }
    let report = chaos::run(config).await?;
    eprintln!("{report}");

    report.assert_clean(100);
    let s = &report.sagas;
    let replicas: Vec<_> = report.orchestrators().collect();
    let answered_by = &report.load.answered_by;
    let happened = [
        ("replicas", replicas.len() as u64),
        (
            "replicas killed or stopped",
            replicas.iter().map(|r| r.kills + r.terms).sum(),
        ),
        ("replicas paused", replicas.iter().map(|r| r.pauses).sum()),
        (
            "successors started beside a draining replica",
            replicas.iter().map(|r| r.overlaps).sum(),
        ),
        (
            "successors under a new replica id",
            replicas.iter().map(|r| r.new_ids).sum(),
        ),
        ("takeovers", report.ownership.takeovers),
        ("handovers in the saga logs", s.handovers as u64),
        (
            "sagas claimed",
            report
                .ownership
                .by_replica
                .values()
                .map(|r| r.claimed)
                .sum(),
        ),
        (
            "replicas that answered",
            answered_by.values().filter(|n| **n > 0).count() as u64,
        ),
        (
            "calls repeated on another replica",
            report.load.retried_elsewhere,
        ),
        (
            "database connections cut",
            report.connection_drops.terminated,
        ),
        ("compensated sagas", s.compensated as u64),
    ];
    assert_all_happened(&happened);
    assert_eq!(
        (replicas.len(), answered_by.len()),
        (REPLICAS as usize, REPLICAS as usize),
        "every replica ran and answered: {answered_by:?}"
    );
    Ok(())
}
