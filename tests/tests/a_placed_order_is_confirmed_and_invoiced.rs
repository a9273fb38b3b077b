//! Happy path: one order runs create_order → create_invoice → confirm_order and ends
//! with a CONFIRMED order and one ISSUED invoice of its total.

use anyhow::Result;
use saga_contracts::invoices::v1::{GetInvoiceRequest, Invoice, InvoiceStatus};
use saga_contracts::orders::v1::{GetOrderRequest, Order, OrderStatus};
use saga_contracts::saga::v1::{GetSagaRequest, SagaStatus, StepOutcome, StepPhase};
use saga_tests::requests::{CURRENCY, order_items, place, small_order, total_cents};
use saga_tests::saga_log::{SAGA, line, lines, step_lines};
use saga_tests::{Backend, Cluster, ClusterOptions, Counts, check_invariants, on_every_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placed_order_is_confirmed_and_invoiced() -> Result<()> {
    on_every_backend(scenario).await
}

async fn scenario(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(backend)).await?;
    let request = small_order(1);
    let total = total_cents(&request);

    let saga = place(&cluster.orchestrator(), request.clone()).await?;

    assert_eq!(saga.status(), SagaStatus::Completed, "{saga:#?}");
    assert_eq!(
        (
            saga.idempotency_key.as_str(),
            saga.customer_id.as_str(),
            saga.total_cents,
            saga.currency.as_str(),
            saga.error.as_str()
        ),
        (
            request.idempotency_key.as_str(),
            request.customer_id.as_str(),
            total,
            CURRENCY,
            ""
        )
    );
    use StepOutcome::{Started, Succeeded};
    use StepPhase::Action;
    assert_eq!(
        step_lines(&saga),
        vec![
            line("create_order", Action, Started),
            line("create_order", Action, Succeeded),
            line("create_invoice", Action, Started),
            line("create_invoice", Action, Succeeded),
            line("confirm_order", Action, Started),
            line("confirm_order", Action, Succeeded),
        ]
    );
    let all = lines(&saga);
    assert_eq!(
        (
            all.first().map(|l| l.step.as_str()),
            all.last().map(|l| l.step.as_str())
        ),
        (Some(SAGA), Some(SAGA)),
        "the log opens and closes with a saga record: {all:#?}"
    );
    let fetched = cluster
        .orchestrator()
        .get_saga(GetSagaRequest {
            saga_id: saga.saga_id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(fetched, saga, "GetSaga shows what PlaceOrder answered");

    let order = cluster
        .orders()
        .get_order(GetOrderRequest {
            order_id: saga.order_id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(
        order,
        Order {
            order_id: saga.order_id.clone(),
            customer_id: request.customer_id.clone(),
            items: order_items(&request),
            total_cents: total,
            currency: CURRENCY.into(),
            status: OrderStatus::Confirmed.into(),
            saga_id: saga.saga_id.clone(),
            version: 1,
            updated_at_ms: order.updated_at_ms,
            idempotency_key: String::new(),
        }
    );
    let invoice = cluster
        .invoices()
        .get_invoice(GetInvoiceRequest {
            invoice_id: saga.invoice_id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(
        invoice,
        Invoice {
            invoice_id: saga.invoice_id.clone(),
            order_id: saga.order_id.clone(),
            customer_id: request.customer_id.clone(),
            amount_cents: total,
            currency: CURRENCY.into(),
            status: InvoiceStatus::Issued.into(),
            saga_id: saga.saga_id.clone(),
        }
    );

    let summary = check_invariants(&cluster).await?;
    assert_eq!(
        summary.counts,
        Counts {
            sagas_completed: 1,
            orders_confirmed: 1,
            invoices_issued: 1,
            ..Counts::default()
        }
    );
    Ok(())
}
