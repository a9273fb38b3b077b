//! One phase of one pattern: `concurrency` clients place `orders` orders, a watcher
//! notes when each became consistent, and, in the outage phase, invoices-svc is paused
//! for a while one second in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use nix::sys::signal::Signal;
use saga_contracts::saga::v1 as saga;
use saga_tests::Cluster;
use saga_tests::direct::{placed, settled};
use saga_tests::poll::eventually;
use saga_tests::supervisor::Signaller;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::watch::Watcher;
use super::{Pattern, PatternsConfig};
use crate::cpu::Snapshot;
use crate::latency::{Latency, Recorder};

/// How long a phase may take to become consistent after its last order was placed
/// (beyond the outage itself).
const SETTLE_LIMIT: Duration = Duration::from_secs(300);
/// When the outage starts, after the phase's first order.
const OUTAGE_AFTER: Duration = Duration::from_secs(1);

/// What one phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub orders: u64,
    /// The client's `PlaceOrder` call.
    pub placed: Latency,
    /// From the client's send until the order was seen CONFIRMED (or CANCELLED).
    pub consistent: Latency,
    /// Orders made consistent per second, first send to last one seen settled.
    pub orders_per_s: f64,
    /// CPU the whole stack spent per order, in ms.
    pub cpu_ms_per_order: f64,
    /// The phase's orders CONFIRMED and CANCELLED; every order of the stack was checked
    /// to agree with its invoices (one ISSUED of its total once CONFIRMED, none once
    /// CANCELLED).
    pub confirmed: usize,
    pub cancelled: usize,
    /// With an outage: seconds from invoices-svc's resumption until every order of the
    /// phase was consistent.
    pub recovered_after_s: Option<f64>,
}

/// Sends of the phase, by order id.
type Sent = Arc<Mutex<HashMap<String, Instant>>>;

/// Runs one phase; `outage` pauses invoices-svc that long.
pub async fn phase(
    cluster: &Cluster,
    pattern: Pattern,
    config: &PatternsConfig,
    orders: u64,
    outage: Option<Duration>,
) -> Result<Phase> {
    let tag = if outage.is_some() { "outage" } else { "steady" };
    let watcher = Watcher::start(cluster.orders(), service_kit::db::now_ms() - 1_000);
    let before = Snapshot::take(&[]);
    let start = Instant::now();
    let invoices = cluster.invoices_signaller();
    let resumed = outage.map(|pause| tokio::spawn(pause_invoices(invoices, pause)));
    let placed = Arc::new(Recorder::new()?);
    let sent = Sent::default();
    place_all(
        cluster,
        pattern,
        config.concurrency,
        orders,
        tag,
        &placed,
        &sent,
    )
    .await?;
    let sent = sent.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let give_up = Instant::now() + SETTLE_LIMIT + outage.unwrap_or_default();
    while !watcher.saw_all(sent.keys()) {
        ensure!(
            Instant::now() < give_up,
            "{tag} phase of {pattern:?}: not every order settled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = watcher.seen();
    watcher.stop().await?;
    let spent = before.until(&Snapshot::take(&[]));
    let resumed_at = match resumed {
        Some(task) => Some(task.await.context("the outage task")??),
        None => None,
    };
    let consistent = Recorder::new()?;
    let (mut last, mut confirmed) = (start, 0);
    for (order, at) in &sent {
        let (settled_at, was_confirmed) = seen[order];
        consistent.record(settled_at.saturating_duration_since(*at));
        last = last.max(settled_at);
        confirmed += usize::from(was_confirmed);
    }
    eventually(SETTLE_LIMIT, "orders and invoices agree", || {
        settled(cluster)
    })
    .await
    .with_context(|| format!("{pattern:?}"))?;
    let cpu_s: f64 = spent.processes.values().map(|p| p.cpu_s).sum();
    let count = sent.len() as f64;
    Ok(Phase {
        orders,
        placed: placed.summary(),
        consistent: consistent.summary(),
        orders_per_s: count / last.duration_since(start).as_secs_f64().max(1e-9),
        cpu_ms_per_order: cpu_s * 1_000.0 / count.max(1.0),
        confirmed,
        cancelled: sent.len() - confirmed,
        recovered_after_s: resumed_at.map(|at| last.saturating_duration_since(at).as_secs_f64()),
    })
}

/// Places `orders` orders from `concurrency` clients at once.
async fn place_all(
    cluster: &Cluster,
    pattern: Pattern,
    concurrency: u32,
    orders: u64,
    tag: &str,
    placed: &Arc<Recorder>,
    sent: &Sent,
) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..concurrency {
        let (next, placed, sent) = (next.clone(), placed.clone(), sent.clone());
        let (orchestrator, direct) = (cluster.orchestrator(), cluster.orders());
        let tag = tag.to_string();
        clients.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders {
                    return anyhow::Ok(());
                }
                let key = format!("{tag}-{n}");
                let at = Instant::now();
                let order_id = match pattern.direct() {
                    true => {
                        let order = direct.clone().place_order(placed_order(&key)).await?;
                        order.into_inner().order_id
                    }
                    false => {
                        let saga = orchestrator.clone().place_order(saga_order(&key)).await?;
                        saga.into_inner()
                            .saga
                            .map(|s| s.order_id)
                            .unwrap_or_default()
                    }
                };
                placed.record(at.elapsed());
                sent.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(order_id, at);
            }
        });
    }
    while let Some(client) = clients.join_next().await {
        client??;
    }
    Ok(())
}

fn placed_order(key: &str) -> saga_contracts::orders::v1::PlaceOrderRequest {
    placed(key, 2, 1_250)
}

fn saga_order(key: &str) -> saga::PlaceOrderRequest {
    let direct = placed_order(key);
    saga::PlaceOrderRequest {
        idempotency_key: direct.idempotency_key,
        customer_id: direct.customer_id,
        items: direct
            .items
            .into_iter()
            .map(|i| saga::LineItem {
                sku: i.sku,
                quantity: i.quantity,
                unit_price_cents: i.unit_price_cents,
            })
            .collect(),
        currency: direct.currency,
        wait_ms: 0,
    }
}

/// Pauses invoices-svc for `pause`, one second from now; answers when it resumed.
async fn pause_invoices(invoices: Signaller, pause: Duration) -> Result<Instant> {
    tokio::time::sleep(OUTAGE_AFTER).await;
    invoices.send(Signal::SIGSTOP)?;
    tokio::time::sleep(pause).await;
    invoices.send(Signal::SIGCONT)?;
    Ok(Instant::now())
}
