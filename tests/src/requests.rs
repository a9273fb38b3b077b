//! PlaceOrder requests the tests send, and placing them one by one or all at once.

use anyhow::{Context, Result};
use saga_contracts::orders::v1 as orders;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{LineItem, PlaceOrderRequest, Saga};
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// The currency of every test order.
pub const CURRENCY: &str = "EUR";
/// `invoices-svc`'s default `--max-invoice-cents`.
pub const DEFAULT_MAX_INVOICE_CENTS: i64 = 1_000_000;

/// A line item.
pub fn item(sku: &str, quantity: u32, unit_price_cents: i64) -> LineItem {
    LineItem {
        sku: sku.to_string(),
        quantity,
        unit_price_cents,
    }
}

/// A PlaceOrder request that waits for the saga to end (`wait_ms: 0`).
pub fn order(key: &str, customer: &str, items: Vec<LineItem>) -> PlaceOrderRequest {
    PlaceOrderRequest {
        idempotency_key: key.to_string(),
        customer_id: customer.to_string(),
        items,
        currency: CURRENCY.to_string(),
        wait_ms: 0,
    }
}

/// The `n`th small order of a test: well under any invoice limit, unique key.
pub fn small_order(n: usize) -> PlaceOrderRequest {
    let price = 1_000 + i64::try_from(n).unwrap_or(0);
    order(
        &format!("small-{n}"),
        &format!("customer-{}", n % 3),
        vec![item("sku-apple", 2, price), item("sku-pear", 1, 250)],
    )
}

/// The `n`th large order of a test: 1,200,000 cents, over the default invoice limit.
pub fn large_order(n: usize) -> PlaceOrderRequest {
    order(
        &format!("large-{n}"),
        &format!("customer-{}", n % 3),
        vec![item("sku-piano", 3, 400_000)],
    )
}

/// The order total a request asks for (the tests' requests never overflow).
pub fn total_cents(request: &PlaceOrderRequest) -> i64 {
    request
        .items
        .iter()
        .map(|i| i64::from(i.quantity) * i.unit_price_cents)
        .sum()
}

/// The request's items as `orders-svc` stores them.
pub fn order_items(request: &PlaceOrderRequest) -> Vec<orders::LineItem> {
    request
        .items
        .iter()
        .map(|i| orders::LineItem {
            sku: i.sku.clone(),
            quantity: i.quantity,
            unit_price_cents: i.unit_price_cents,
        })
        .collect()
}

/// Places one order and returns the saga the orchestrator answered with.
pub async fn place(
    client: &OrchestratorClient<Channel>,
    request: PlaceOrderRequest,
) -> Result<Saga> {
    let key = request.idempotency_key.clone();
    client
        .clone()
        .place_order(request)
        .await
        .with_context(|| format!("PlaceOrder {key:?} failed"))?
        .into_inner()
        .saga
        .with_context(|| format!("PlaceOrder {key:?} answered without a saga"))
}

/// Places all orders concurrently; the sagas come back in the requests' order.
pub async fn place_all(
    client: &OrchestratorClient<Channel>,
    requests: Vec<PlaceOrderRequest>,
) -> Result<Vec<Saga>> {
    let mut calls = JoinSet::new();
    for (index, request) in requests.into_iter().enumerate() {
        let client = client.clone();
        calls.spawn(async move { (index, place(&client, request).await) });
    }
    let mut sagas = Vec::new();
    while let Some(joined) = calls.join_next().await {
        let (index, saga) = joined.context("a PlaceOrder task panicked")?;
        sagas.push((index, saga?));
    }
    sagas.sort_by_key(|(index, _)| *index);
    Ok(sagas.into_iter().map(|(_, saga)| saga).collect())
}

/// Places `count` small orders concurrently, answered (RUNNING) after 20 ms rather than
/// when their sagas end.
pub async fn place_small_without_waiting(
    client: &OrchestratorClient<Channel>,
    count: usize,
) -> Result<Vec<Saga>> {
    let requests = (0..count)
        .map(|n| PlaceOrderRequest {
            wait_ms: 20,
            ..small_order(n)
        })
        .collect();
    place_all(client, requests).await
}
