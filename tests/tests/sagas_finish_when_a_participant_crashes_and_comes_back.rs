//! Participants crash (exit before committing) on some calls and are restarted on the
//! same address and database: the orchestrator retries through the outages and every
//! saga completes.

use std::time::Duration;

use anyhow::Result;
use saga_contracts::saga::v1::PlaceOrderRequest;
use saga_tests::requests::{place_all, small_order};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SAGAS: usize = 20;
/// `service_kit::faults::CRASH_EXIT_CODE`.
const CRASH_EXIT_CODE: i32 = 86;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_finish_when_a_participant_crashes_and_comes_back() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let options = ClusterOptions::default()
        .backend(backend)
        .orders_faults("CreateOrder:crash:0.15,ConfirmOrder:crash:0.15")
        .invoices_faults("CreateInvoice:crash:0.15")
        .fault_seed(3)
        .supervise_participants()
        .max_attempts(30)
        .retry_max_ms(300);
    let cluster = Cluster::start(options).await?;
    let requests = (0..SAGAS)
        .map(|n| PlaceOrderRequest {
            wait_ms: 10,
            ..small_order(n)
        })
        .collect();

    place_all(&cluster.orchestrator(), requests).await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(60))
        .await?;

    // Each exit was a crash (exit code 86), and each participant crashed at least once.
    let exit_codes = |exits: Vec<std::process::ExitStatus>| -> Vec<Option<i32>> {
        exits.iter().map(|s| s.code()).collect()
    };
    let (orders_exits, invoices_exits) = (
        exit_codes(cluster.orders_exits()),
        exit_codes(cluster.invoices_exits()),
    );
    assert_eq!(
        (
            vec![Some(CRASH_EXIT_CODE); orders_exits.len().max(1)],
            vec![Some(CRASH_EXIT_CODE); invoices_exits.len().max(1)]
        ),
        (orders_exits, invoices_exits),
        "(orders-svc exits, invoices-svc exits)"
    );
    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.counts, Counts::all_completed(SAGAS));
    Ok(())
}
