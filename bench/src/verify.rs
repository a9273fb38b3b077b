//! The end of every run: wait until no saga is still going, then read everything the
//! services hold and check the cross-service invariants with `saga-tests`' checker, plus
//! that every key this run had answered has exactly the saga it was answered with, for the
//! order it asked for. The floor's records belong to no saga, so they are left out of the
//! check and only counted.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use saga_contracts::invoices::v1::{Invoice, InvoiceStatus};
use saga_contracts::orders::v1::{Order, OrderStatus};
use saga_contracts::saga::v1::{Saga, SagaStatus};
use saga_tests::invariants::{Placement, Snapshot, placement_violations};
use saga_tests::listing::all_sagas;
use saga_tests::poll::{Check, eventually};
use serde::Serialize;

use crate::stack::Clients;
use crate::workload::{FLOOR_PREFIX, Workload};

/// Violations listed in full in the report; the rest are only counted.
const LISTED_VIOLATIONS: usize = 50;

/// What the final check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub passed: bool,
    /// What was checked: every saga the orchestrator holds, and the orders and invoices
    /// outside the floor.
    pub sagas: usize,
    pub orders: usize,
    pub invoices: usize,
    pub violation_count: usize,
    /// Time taken to read everything back and check it.
    pub elapsed_s: f64,
    /// The first violations, one sentence each.
    pub violations: Vec<String>,
    /// This run's floor records by status (not checked: they belong to no saga).
    pub floor_records: FloorRecords,
}

/// The floor's orders and invoices of this run, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FloorRecords {
    pub orders_confirmed: usize,
    pub orders_cancelled: usize,
    pub orders_pending: usize,
    pub invoices_issued: usize,
    pub invoices_voided: usize,
}

/// Polls until no saga is RUNNING or COMPENSATING; fails after `deadline`.
pub async fn settle(clients: &Clients, deadline: Duration) -> Result<()> {
    let client = clients.orchestrator(0);
    eventually(deadline, "every saga to end", || {
        let client = client.clone();
        async move {
            let mut going = 0;
            for status in [SagaStatus::Running, SagaStatus::Compensating] {
                going += all_sagas(&client, status).await?.len();
            }
            Ok(if going == 0 {
                Check::Done(())
            } else {
                Check::NotYet(format!("{going} sagas still going"))
            })
        }
    })
    .await
}

/// Reads everything and checks it; returns the verdict and this run's sagas (with logs).
pub async fn verify(
    clients: &Clients,
    workload: &Workload,
    placements: &[Placement],
) -> Result<(Verdict, Vec<Saga>)> {
    let started = Instant::now();
    let mut snapshot = Snapshot::read(
        &clients.orchestrator(0),
        &clients.orders(0),
        &clients.invoices(0),
    )
    .await?;
    let floor_records = FloorRecords::of(
        &snapshot.orders,
        &snapshot.invoices,
        &workload.floor_prefix(),
    );
    snapshot
        .orders
        .retain(|o| !o.saga_id.starts_with(FLOOR_PREFIX));
    snapshot
        .invoices
        .retain(|i| !i.saga_id.starts_with(FLOOR_PREFIX));

    let keys = workload.key_prefix();
    let run_sagas: Vec<Saga> = snapshot
        .sagas
        .iter()
        .filter(|s| s.idempotency_key.starts_with(&keys))
        .cloned()
        .collect();
    let mut found = snapshot.violations();
    let answered: BTreeSet<&str> = placements.iter().map(|p| p.key.as_str()).collect();
    let answered_sagas: Vec<Saga> = run_sagas
        .iter()
        .filter(|s| answered.contains(s.idempotency_key.as_str()))
        .cloned()
        .collect();
    found.extend(placement_violations(placements, &answered_sagas));
    let verdict = Verdict {
        passed: found.is_empty(),
        sagas: snapshot.sagas.len(),
        orders: snapshot.orders.len(),
        invoices: snapshot.invoices.len(),
        violation_count: found.len(),
        elapsed_s: started.elapsed().as_secs_f64(),
        violations: found.into_iter().take(LISTED_VIOLATIONS).collect(),
        floor_records,
    };
    Ok((verdict, run_sagas))
}

impl FloorRecords {
    /// Counts the records whose saga id starts with `prefix`.
    fn of(orders: &[Order], invoices: &[Invoice], prefix: &str) -> Self {
        let orders_in = |status| {
            let ours = |o: &&Order| o.saga_id.starts_with(prefix) && o.status() == status;
            orders.iter().filter(ours).count()
        };
        let invoices_in = |status| {
            let ours = |i: &&Invoice| i.saga_id.starts_with(prefix) && i.status() == status;
            invoices.iter().filter(ours).count()
        };
        Self {
            orders_confirmed: orders_in(OrderStatus::Confirmed),
            orders_cancelled: orders_in(OrderStatus::Cancelled),
            orders_pending: orders_in(OrderStatus::Pending),
            invoices_issued: invoices_in(InvoiceStatus::Issued),
            invoices_voided: invoices_in(InvoiceStatus::Voided),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(saga_id: &str, status: OrderStatus) -> Order {
        Order {
            saga_id: saga_id.into(),
            status: status.into(),
            ..Order::default()
        }
    }

    fn invoice(saga_id: &str, status: InvoiceStatus) -> Invoice {
        Invoice {
            saga_id: saga_id.into(),
            status: status.into(),
            ..Invoice::default()
        }
    }

    #[test]
    fn only_this_runs_floor_records_are_counted() {
        let orders = [
            order("floor-run-1", OrderStatus::Confirmed),
            order("floor-run-2", OrderStatus::Cancelled),
            order("floor-run-3", OrderStatus::Pending),
            order("floor-old-1", OrderStatus::Pending),
            order("a-saga-id", OrderStatus::Confirmed),
        ];
        let invoices = [
            invoice("floor-run-1", InvoiceStatus::Issued),
            invoice("floor-old-1", InvoiceStatus::Issued),
        ];
        assert_eq!(
            FloorRecords::of(&orders, &invoices, "floor-run-"),
            FloorRecords {
                orders_confirmed: 1,
                orders_cancelled: 1,
                orders_pending: 1,
                invoices_issued: 1,
                invoices_voided: 0,
            }
        );
    }
}
