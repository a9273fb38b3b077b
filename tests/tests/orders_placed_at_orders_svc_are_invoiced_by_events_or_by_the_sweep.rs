//! Orders placed at orders-svc directly get their invoices through the orchestrator's
//! invoice trigger, by events (orders-svc's outbox stream, or its relay to a real NATS
//! JetStream server) or by the sync sweep (a durable watermark), on each backend: each order ends CONFIRMED with one ISSUED invoice of its
//! final total, or CANCELLED with none, whether it was over the invoice limit, changed or
//! withdrawn while its saga ran, placed twice, or placed while the orchestrator was down.

use std::time::Duration;

use anyhow::{Result, ensure};
use saga_contracts::orders::v1::{
    LineItem, Order, OrderStatus, UpdateOrderRequest, WithdrawOrderRequest,
};
use saga_tests::direct::{placed, settled};
use saga_tests::nats::NatsServer;
use saga_tests::poll::eventually;
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_at_orders_svc_are_invoiced_by_events() -> Result<()> {
    on_every_backend(|backend| scenario(backend, "events", None)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_at_orders_svc_are_invoiced_by_events_through_nats_jetstream() -> Result<()> {
    on_every_backend(|backend| async move {
        let Some(nats) = NatsServer::start().await? else {
            return Ok(());
        };
        scenario(backend, "events", Some(nats.url())).await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_at_orders_svc_are_invoiced_by_the_sweep() -> Result<()> {
    on_every_backend(|backend| scenario(backend, "sync", None)).await
}

async fn scenario(backend: Backend, trigger: &str, nats_url: Option<String>) -> Result<()> {
    let mut options = ClusterOptions::default();
    if let Some(url) = nats_url {
        options = options.nats_url(url);
    }
    let mut cluster = Cluster::start(
        options
            .backend(backend)
            .max_invoice_cents(100_000)
            .orchestrator_arg(format!("--invoice-trigger={trigger}"))
            .orchestrator_arg("--sync-interval-ms=100")
            .orchestrator_arg("--sync-page-size=3"),
    )
    .await?;
    let mut orders = cluster.orders();
    for n in 0..6 {
        orders
            .place_order(placed(&format!("small-{n}"), 2, 1_000))
            .await?;
    }
    let again = orders
        .place_order(placed("small-0", 2, 1_000))
        .await?
        .into_inner();
    let over = orders
        .place_order(placed("over", 1, 200_000))
        .await?
        .into_inner();
    let changed = orders
        .place_order(placed("changed", 1, 500))
        .await?
        .into_inner();
    change(&cluster, &changed).await?;
    let withdrawn = orders
        .place_order(placed("withdrawn", 1, 700))
        .await?
        .into_inner();
    withdraw(&cluster, &withdrawn).await?;

    let first = eventually(PATIENCE, "every order settled", || settled(&cluster)).await?;
    ensure!(
        first.confirmed + first.cancelled == 9,
        "{first:?}: one order per key"
    );
    ensure!(
        status(&cluster, &over).await? == OrderStatus::Cancelled,
        "over the limit"
    );
    ensure!(
        status(&cluster, &again).await? == OrderStatus::Confirmed,
        "placed twice, invoiced once"
    );

    // Placed while no orchestrator runs: the restarted one's feed picks them up.
    cluster.terminate_orchestrator().await?;
    for n in 0..3 {
        orders
            .place_order(placed(&format!("later-{n}"), 1, 900))
            .await?;
    }
    cluster.restart_orchestrator().await?;
    let after = eventually(PATIENCE, "the later orders settled", || settled(&cluster)).await?;
    ensure!(after.confirmed + after.cancelled == 12, "{after:?}");
    cluster.stop().await?;
    Ok(())
}

/// Changes the order's items, unless its saga confirmed it first (both are fine).
async fn change(cluster: &Cluster, order: &Order) -> Result<()> {
    let update = UpdateOrderRequest {
        order_id: order.order_id.clone(),
        items: vec![LineItem {
            sku: "sku-direct".to_string(),
            quantity: 3,
            unit_price_cents: 600,
        }],
        version: order.version,
    };
    match cluster.orders().update_order(update).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::FailedPrecondition => Ok(()),
        Err(status) => Err(status.into()),
    }
}

/// Withdraws the order, unless its saga confirmed it first (both are fine).
async fn withdraw(cluster: &Cluster, order: &Order) -> Result<()> {
    let withdraw = WithdrawOrderRequest {
        order_id: order.order_id.clone(),
    };
    match cluster.orders().withdraw_order(withdraw).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::FailedPrecondition => Ok(()),
        Err(status) => Err(status.into()),
    }
}

async fn status(cluster: &Cluster, order: &Order) -> Result<OrderStatus> {
    let request = saga_contracts::orders::v1::GetOrderRequest {
        order_id: order.order_id.clone(),
    };
    let got = cluster.orders().get_order(request).await?.into_inner();
    Ok(got.status())
}
