//! An invoice over `--max-invoice-cents` is refused for good: the saga compensates,
//! cancels its order and leaves no issued invoice, while orders under the limit complete.

use anyhow::Result;
use saga_contracts::invoices::v1::{InvoiceStatus, ListInvoicesRequest};
use saga_contracts::orders::v1::{GetOrderRequest, OrderStatus};
use saga_contracts::saga::v1::{SagaStatus, StepOutcome, StepPhase};
use saga_tests::requests::{large_order, place_all, small_order};
use saga_tests::saga_log::{line, step_lines};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_invoice_compensates_and_cancels_the_order() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .max_invoice_cents(100_000),
    )
    .await?;
    let requests: Vec<_> = (0..4)
        .map(small_order)
        .chain((0..4).map(large_order))
        .collect();

    let sagas = place_all(&cluster.orchestrator(), requests).await?;

    let statuses: Vec<SagaStatus> = sagas.iter().map(|s| s.status()).collect();
    assert_eq!(
        statuses,
        [[SagaStatus::Completed; 4], [SagaStatus::Compensated; 4]].concat()
    );
    use StepOutcome::{Failed, Started, Succeeded};
    use StepPhase::{Action, Compensation};
    for saga in &sagas[4..] {
        assert_eq!(
            step_lines(saga),
            vec![
                line("create_order", Action, Started),
                line("create_order", Action, Succeeded),
                line("create_invoice", Action, Started),
                line("create_invoice", Action, Failed),
                line("cancel_order", Compensation, Started),
                line("cancel_order", Compensation, Succeeded),
            ],
            "saga {}",
            saga.saga_id
        );
        assert!(
            !saga.error.is_empty(),
            "a compensated saga says why: {saga:#?}"
        );
        let order = cluster
            .orders()
            .get_order(GetOrderRequest {
                order_id: saga.order_id.clone(),
            })
            .await?
            .into_inner();
        assert_eq!(order.status(), OrderStatus::Cancelled, "{order:#?}");
        let issued = cluster
            .invoices()
            .list_invoices(ListInvoicesRequest {
                saga_id: saga.saga_id.clone(),
                status: InvoiceStatus::Issued.into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        assert_eq!(issued.invoices, vec![], "saga {}", saga.saga_id);
    }

    let summary = check_invariants(&cluster).await?;
    assert_eq!(
        summary.counts,
        Counts {
            sagas_completed: 4,
            sagas_compensated: 4,
            orders_confirmed: 4,
            orders_cancelled: 4,
            invoices_issued: 4,
            invoices_voided: 0,
        }
    );
    Ok(())
}
