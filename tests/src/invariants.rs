//! The cross-service invariant check every test ends with: reads all sagas, orders and
//! invoices through the public APIs and fails listing every violation found. The rules
//! themselves are pure functions (`rules`, `log`, `fencing`, `claims`, `keys`, `liveness`), unit-tested without
//! processes.

/// No saga taken from a live replica, or before its lease ended.
pub mod claims;
/// Orders placed at orders-svc directly: their keys, events, sagas and invoices agree.
pub mod direct;
/// One writer at a time: no stale owner's write was accepted.
pub mod fencing;
/// The client's view: every key sent has exactly one saga.
pub mod keys;
/// Every saga ends within a bound of the last fault.
pub mod liveness;
/// Each saga's log is well formed.
pub mod log;
/// The inventory's reservations agree with the four-step sagas.
pub mod reservations;
mod rules;
pub mod shape;

use anyhow::{Result, bail};
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::invoices::v1::{Invoice, InvoiceStatus};
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::orders::v1::{Order, OrderStatus};
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{Saga, SagaStatus};
use tonic::transport::Channel;

use crate::cluster::Cluster;
use crate::listing::{all_invoices, all_orders, all_sagas, full_sagas};

pub use keys::{Placement, placement_violations};
pub use liveness::{Straggler, liveness_violations};
pub use log::log_violations;
pub use reservations::reservation_violations;
pub use rules::violations;
pub use shape::{SagaShape, Shapes};

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

impl Counts {
    /// `sagas` sagas, every one completed: its order confirmed, its invoice issued.
    pub fn all_completed(sagas: usize) -> Self {
        Self {
            sagas_completed: sagas,
            orders_confirmed: sagas,
            invoices_issued: sagas,
            ..Self::default()
        }
    }
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
    let snapshot = Snapshot::read(
        &cluster.orchestrator(),
        &cluster.orders(),
        &cluster.invoices(),
    )
    .await?;
    let found = snapshot.violations();
    if !found.is_empty() {
        bail!(
            "{} invariant violation(s) across {} sagas, {} orders, {} invoices:\n  {}",
            found.len(),
            snapshot.sagas.len(),
            snapshot.orders.len(),
            snapshot.invoices.len(),
            found.join("\n  ")
        );
    }
    Ok(Summary {
        counts: snapshot.counts(),
        sagas: snapshot.sagas,
        orders: snapshot.orders,
        invoices: snapshot.invoices,
    })
}

/// Everything the three services hold, read through their public APIs.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The sagas as ListSagas shows them (without logs).
    pub listed: Vec<Saga>,
    /// The same sagas, each with its full log (from GetSaga).
    pub sagas: Vec<Saga>,
    pub orders: Vec<Order>,
    pub invoices: Vec<Invoice>,
    /// The definition version each saga runs, as the orchestrator has it.
    pub shapes: Shapes,
}

impl Snapshot {
    /// Reads every saga (with its log), order and invoice.
    pub async fn read(
        orchestrator: &OrchestratorClient<Channel>,
        orders: &OrdersClient<Channel>,
        invoices: &InvoicesClient<Channel>,
    ) -> Result<Self> {
        let listed = all_sagas(orchestrator, SagaStatus::Unspecified).await?;
        let sagas = full_sagas(orchestrator, &listed).await?;
        let shapes = Shapes::read(orchestrator, &sagas).await?;
        Ok(Self {
            listed,
            sagas,
            shapes,
            orders: all_orders(orders).await?,
            invoices: all_invoices(invoices).await?,
        })
    }

    /// Every violation of the cross-service invariants and of the logs' form.
    pub fn violations(&self) -> Vec<String> {
        let mut found = rules::listing_agrees(&self.listed, &self.sagas);
        found.extend(violations(
            &self.sagas,
            &self.shapes,
            &self.orders,
            &self.invoices,
        ));
        found
    }

    /// How many sagas, orders and invoices ended in each status.
    pub fn counts(&self) -> Counts {
        counts(&self.sagas, &self.orders, &self.invoices)
    }
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
