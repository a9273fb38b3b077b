//! Short seeded chaos campaigns on the two patterns that invoice orders placed at
//! orders-svc directly: events (through the outbox stream, and through NATS JetStream
//! with the relay publishing twice, late, out of order or not at all, crashing between
//! publish and mark, and the NATS server itself killed and paused) and background
//! synchronisation (sweeps in small pages, killed mid-page). Every process is killed,
//! stopped and paused as in the place-order campaign, some orders are updated or
//! withdrawn right after placing, and on PostgreSQL two orchestrator replicas share the
//! stream's or the sweep's feed, taking it over from each other. Afterwards every order
//! placed is there once, its events tell its history, every event was acted on exactly
//! once (one saga per announced version on the event paths, none for an unannounced
//! one), each CONFIRMED order has exactly one ISSUED invoice of its total from the saga
//! of its last version, a CANCELLED one none, and nothing is PENDING.

use std::time::Duration;

use anyhow::Result;
use saga_tests::chaos::report::{Report, assert_all_happened};
use saga_tests::chaos::{self, ChaosConfig};
use saga_tests::pattern::Pattern;
use saga_tests::{Backend, nats, on_every_backend};

/// Fixed, so a failure replays with `saga-chaos` and the report's `replay` command.
const SEED: u64 = 20_261_202;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_through_nats_invoice_every_order_once_while_the_broker_is_killed_and_paused()
-> Result<()> {
    if !nats::installed() {
        eprintln!("== nats-server not found: this test is SKIPPED");
        return Ok(());
    }
    on_every_backend(|backend| campaign(backend, Pattern::EventsNats)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_through_the_outbox_stream_invoice_every_order_once() -> Result<()> {
    on_every_backend(|backend| campaign(backend, Pattern::Events)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_invoices_every_order_once_when_killed_mid_page_and_taken_over() -> Result<()> {
    on_every_backend(|backend| campaign(backend, Pattern::Sync)).await
}

async fn campaign(backend: Backend, pattern: Pattern) -> Result<()> {
    let replicas = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres { .. } => 2,
    };
    let config = ChaosConfig {
        pattern,
        sagas: 200,
        duration: Duration::from_secs(25),
        concurrency: 4,
        think: Duration::from_millis(250),
        kill_interval: Duration::from_secs(3),
        pause_interval: Duration::from_secs(4),
        proxy_interval: Duration::from_secs(2),
        broker_interval: Duration::from_secs(4),
        quiesce_timeout: Duration::from_secs(60),
        server_restart_interval: Duration::ZERO,
        verbose: true,
        ..ChaosConfig::on_backend(SEED, &backend, replicas)
    };
    let report = chaos::run(config).await?;
    eprintln!("{report}");

    report.assert_clean(60);
    assert_all_happened(&happened(&report, pattern, replicas));
    Ok(())
}

/// The chaos each campaign must have gone through to prove anything.
fn happened(report: &Report, pattern: Pattern, replicas: u32) -> Vec<(&'static str, u64)> {
    let direct = report.direct.clone().unwrap_or_default();
    let changes = report.load.changes;
    let orchestrator_kills: u64 = report.orchestrators().map(|o| o.kills).sum();
    let mut happened = vec![
        ("orchestrator kills", orchestrator_kills),
        ("orders-svc kills", report.processes["orders-svc"].kills),
        ("orders updated", changes.updated),
        ("orders withdrawn", changes.withdrawn),
        (
            "orders confirmed after an update",
            direct.confirmed_updated as u64,
        ),
        ("orders over the limit", report.sagas.over_limit as u64),
    ];
    if pattern == Pattern::EventsNats {
        let broker = direct.broker.unwrap_or_default();
        happened.push(("nats-server kills or pauses", broker.kills + broker.pauses));
        let fired = |kind: &str| report.faults.fired.get(kind).copied().unwrap_or(0);
        happened.push(("duplicates published", fired("duplicate")));
    }
    if pattern != Pattern::EventsNats && replicas > 1 {
        let takes: usize = direct.feed_takes.values().sum();
        happened.push(("the feed taken over", takes.saturating_sub(1) as u64));
    }
    happened
}
