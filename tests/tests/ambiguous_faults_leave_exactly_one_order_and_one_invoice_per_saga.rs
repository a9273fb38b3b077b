//! A call that took effect but answered UNAVAILABLE (`ambiguous`) is retried with the same
//! idempotency key: every saga still ends with exactly one order and one invoice.

use std::time::Duration;

use anyhow::Result;
use saga_contracts::saga::v1::{SagaStatus, StepOutcome};
use saga_tests::requests::{place_all, small_order};
use saga_tests::saga_log::count;
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

const SAGAS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_faults_leave_exactly_one_order_and_one_invoice_per_saga() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let options = ClusterOptions::default()
        .backend(backend)
        .orders_faults("CreateOrder:ambiguous:0.3,ConfirmOrder:ambiguous:0.3")
        .invoices_faults("CreateInvoice:ambiguous:0.3")
        .fault_seed(23);
    let cluster = Cluster::start(options).await?;

    let sagas = place_all(
        &cluster.orchestrator(),
        (0..SAGAS).map(small_order).collect(),
    )
    .await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(30))
        .await?;

    let statuses: Vec<SagaStatus> = sagas.iter().map(|s| s.status()).collect();
    assert_eq!(statuses, vec![SagaStatus::Completed; SAGAS]);
    let summary = check_invariants(&cluster).await?;
    assert_eq!(summary.counts, Counts::all_completed(SAGAS));
    assert_eq!(
        (summary.orders.len(), summary.invoices.len()),
        (SAGAS, SAGAS),
        "one order and one invoice per saga, nothing duplicated"
    );
    let repeated: Vec<(&str, bool)> = ["create_order", "create_invoice"]
        .into_iter()
        .map(|step| {
            (
                step,
                count(&summary.sagas, step, StepOutcome::RetryScheduled) > 0,
            )
        })
        .collect();
    assert_eq!(
        repeated,
        vec![("create_order", true), ("create_invoice", true)],
        "the ambiguous faults fired, so creates were repeated"
    );
    Ok(())
}
