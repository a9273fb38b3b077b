//! The orchestrator is SIGKILLed while sagas are in flight (participants answer slowly)
//! and started again on the same database: it resumes every saga, and each one ends
//! consistent across the services.

use std::time::Duration;

use anyhow::Result;
use saga_contracts::saga::v1::{PlaceOrderRequest, SagaStatus};
use saga_tests::cluster::is_terminal;
use saga_tests::requests::{large_order, place_all, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SMALL: usize = 12;
const LARGE: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_finish_consistently_after_the_orchestrator_is_killed_mid_saga() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let options = ClusterOptions::default()
        .backend(backend)
        .orders_faults("CreateOrder:delay=100:1,ConfirmOrder:delay=100:1,CancelOrder:delay=100:1")
        .invoices_faults("CreateInvoice:delay=100:1")
        .max_invoice_cents(100_000);
    let mut cluster = Cluster::start(options).await?;
    let answer_early = |mut r: PlaceOrderRequest| {
        r.wait_ms = 20;
        r
    };
    let requests = (0..SMALL)
        .map(small_order)
        .chain((0..LARGE).map(large_order))
        .map(answer_early)
        .collect();

    let placed = place_all(&cluster.orchestrator(), requests).await?;
    let statuses: Vec<SagaStatus> = placed.iter().map(|s| s.status()).collect();
    assert_eq!(
        statuses,
        vec![SagaStatus::Running; SMALL + LARGE],
        "answered early"
    );

    let in_flight = cluster
        .wait_for_a_saga_mid_way(Duration::from_secs(10))
        .await?;
    cluster.kill_orchestrator().await?;
    let unfinished = in_flight
        .iter()
        .filter(|s| !is_terminal(s.status()))
        .count();
    assert!(unfinished > 0, "the kill interrupted sagas");

    cluster.restart_orchestrator().await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(30))
        .await?;

    let summary = check_invariants(&cluster).await?;
    assert_eq!(
        summary.sagas.len(),
        SMALL + LARGE,
        "no accepted saga was lost"
    );
    assert_eq!(
        summary.counts,
        Counts {
            sagas_completed: SMALL,
            sagas_compensated: LARGE,
            orders_confirmed: SMALL,
            orders_cancelled: LARGE,
            invoices_issued: SMALL,
            invoices_voided: 0,
        }
    );
    Ok(())
}
