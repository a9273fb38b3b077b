//! The cross-service invariant check every test ends with: reads all sagas, orders and
//! invoices through the public APIs and fails listing every violation found.

mod rules;

use anyhow::{Context, Result, bail};
use saga_contracts::invoices::v1::{Invoice, InvoiceStatus};
use saga_contracts::orders::v1::{Order, OrderStatus};
use saga_contracts::saga::v1::{GetSagaRequest, Saga, SagaStatus};

use crate::cluster::Cluster;
use crate::listing::{all_invoices, all_orders, all_sagas};

pub use rules::violations;

/// How many sagas, orders and invoices ended in each status. Anything else (running,
/// pending, failed) is a violation, so these add up to the totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sagas_completed: usize,
    pub sagas_compensated: usize,
    pub orders_confirmed: usize,
    pub orders_cancelled: usize,
    pub invoices_issued: usize,
    pub invoices_voided: usize,
}

/// What a passing check read, for tests to assert on.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub counts: Counts,
    /// Every saga with its full log (from GetSaga).
    pub sagas: Vec<Saga>,
    pub orders: Vec<Order>,
    pub invoices: Vec<Invoice>,
}

/// Reads everything through the APIs and checks the invariants:
/// every saga ended COMPLETED or COMPENSATED with a gapless log; a COMPLETED saga's order
/// is CONFIRMED with exactly one ISSUED invoice of its total; a COMPENSATED saga has no
/// ISSUED invoice and its order, if any, is CANCELLED; a CONFIRMED order has exactly one
/// ISSUED invoice of its total, a CANCELLED one none, and nothing is PENDING; at most one
/// order and one invoice per saga; every order belongs to a known saga and every invoice
/// to a known order.
pub async fn check_invariants(cluster: &Cluster) -> Result<Summary> {
    let listed = all_sagas(&cluster.orchestrator(), SagaStatus::Unspecified).await?;
    let mut sagas = Vec::with_capacity(listed.len());
    for saga in &listed {
        let full = cluster
            .orchestrator()
            .get_saga(GetSagaRequest {
                saga_id: saga.saga_id.clone(),
            })
            .await
            .with_context(|| format!("GetSaga {} failed", saga.saga_id))?
            .into_inner();
        sagas.push(full);
    }
    let orders = all_orders(&cluster.orders()).await?;
    let invoices = all_invoices(&cluster.invoices()).await?;

    let mut found = rules::listing_agrees(&listed, &sagas);
    found.extend(violations(&sagas, &orders, &invoices));
    if !found.is_empty() {
        bail!(
            "{} invariant violation(s) across {} sagas, {} orders, {} invoices:\n  {}",
            found.len(),
            sagas.len(),
            orders.len(),
            invoices.len(),
            found.join("\n  ")
        );
    }
    Ok(Summary {
        counts: counts(&sagas, &orders, &invoices),
        sagas,
        orders,
        invoices,
    })
}

fn counts(sagas: &[Saga], orders: &[Order], invoices: &[Invoice]) -> Counts {
    let sagas_in = |s| sagas.iter().filter(|x| x.status() == s).count();
    let orders_in = |s| orders.iter().filter(|x| x.status() == s).count();
    let invoices_in = |s| invoices.iter().filter(|x| x.status() == s).count();
    Counts {
        sagas_completed: sagas_in(SagaStatus::Completed),
        sagas_compensated: sagas_in(SagaStatus::Compensated),
        orders_confirmed: orders_in(OrderStatus::Confirmed),
        orders_cancelled: orders_in(OrderStatus::Cancelled),
        invoices_issued: invoices_in(InvoiceStatus::Issued),
        invoices_voided: invoices_in(InvoiceStatus::Voided),
    }
}
