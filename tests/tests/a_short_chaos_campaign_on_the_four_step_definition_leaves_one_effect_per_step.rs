//! The short chaos campaign on the four-step example definition (create order → reserve
//! stock → create invoice → confirm order) over the inventory participant too, started
//! with `StartSaga`: the inventory is killed, stopped and paused, its database stalled
//! and its link disturbed like the others', some reservations are refused and some
//! invoices are over the limit. Afterwards every check of the place-order campaign
//! holds, and the stock agrees: a completed saga holds its reservation, a compensated
//! one does not, and no reservation belongs to anything else.

use std::time::Duration;

use anyhow::Result;
use saga_tests::chaos::report::assert_all_happened;
use saga_tests::chaos::{self, ChaosConfig, Flow};
use saga_tests::{Backend, on_every_backend};

/// Fixed, so a failure replays with `saga-chaos` and the report's `replay` command.
const SEED: u64 = 20_261_202;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_chaos_campaign_on_the_four_step_definition_leaves_one_effect_per_step()
-> Result<()> {
    on_every_backend(campaign).await
}

async fn campaign(backend: Backend) -> Result<()> {
    let config = ChaosConfig {
        flow: Flow::OrderWithStock,
        sagas: 200,
        duration: Duration::from_secs(30),
        concurrency: 4,
        think: Duration::from_millis(200),
        kill_interval: Duration::from_secs(3),
        pause_interval: Duration::from_secs(4),
        proxy_interval: Duration::from_secs(2),
        quiesce_timeout: Duration::from_secs(40),
        server_restart_interval: Duration::ZERO,
        verbose: true,
        ..ChaosConfig::on_backend(SEED, &backend, 1)
    };
    let report = chaos::run(config).await?;
    eprintln!("{report}");

    report.assert_clean(60);
    let inventory = &report.processes["inventory-svc"];
    let s = &report.sagas;
    let happened = [
        ("inventory kills", inventory.kills),
        ("inventory pauses", inventory.pauses),
        ("inventory storage stalls", inventory.storage_stalls),
        ("refused reservations", s.refused as u64),
        ("reservations held", s.reservations_held as u64),
        ("reservations released", s.reservations_released as u64),
        ("over-limit sagas", s.over_limit as u64),
        (
            "attempts resumed after a restart",
            s.resumed_attempts as u64,
        ),
    ];
    assert_all_happened(&happened);
    Ok(())
}
