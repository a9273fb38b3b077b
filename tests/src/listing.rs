//! Reading everything a service holds through its List RPC, page by page.

use std::collections::HashSet;
use std::future::Future;

use anyhow::{Context, Result, bail};
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::invoices::v1::{Invoice, ListInvoicesRequest};
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::orders::v1::{ListOrdersRequest, Order, OrderStatus};
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{GetSagaRequest, ListSagasRequest, Saga, SagaStatus};
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// Page size used when reading everything (the services' largest).
const PAGE_SIZE: u32 = 500;
/// GetSaga calls in flight at once when reading every saga's log.
const GET_CONCURRENCY: usize = 8;
/// More pages than any run writes: a service that never ends its listing is a bug.
const MAX_PAGES: usize = 1_000;

/// Every saga with `status` (UNSPECIFIED: all), in listing order.
pub async fn all_sagas(
    client: &OrchestratorClient<Channel>,
    status: SagaStatus,
) -> Result<Vec<Saga>> {
    Ok(saga_pages(client, status, PAGE_SIZE).await?.concat())
}

/// The pages ListSagas serves for `status` at `page_size`, following the tokens.
pub async fn saga_pages(
    client: &OrchestratorClient<Channel>,
    status: SagaStatus,
    page_size: u32,
) -> Result<Vec<Vec<Saga>>> {
    pages("ListSagas", |page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_sagas(ListSagasRequest {
                    status: status.into(),
                    page_size,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.sagas, page.next_page_token))
        }
    })
    .await
}

/// Each listed saga read again with GetSaga (ListSagas leaves the log out), in the
/// listing's order, a few calls at a time.
pub async fn full_sagas(
    client: &OrchestratorClient<Channel>,
    listed: &[Saga],
) -> Result<Vec<Saga>> {
    let mut full: Vec<Option<Saga>> = vec![None; listed.len()];
    let mut calls = JoinSet::new();
    let mut next = listed.iter().enumerate();
    for _ in 0..listed.len() + GET_CONCURRENCY {
        while calls.len() < GET_CONCURRENCY {
            let Some((index, saga)) = next.next() else {
                break;
            };
            let mut client = client.clone();
            let saga_id = saga.saga_id.clone();
            calls.spawn(async move {
                let got = client
                    .get_saga(GetSagaRequest {
                        saga_id: saga_id.clone(),
                    })
                    .await
                    .with_context(|| format!("GetSaga {saga_id} failed"));
                (index, got)
            });
        }
        let Some(joined) = calls.join_next().await else {
            break;
        };
        let (index, got) = joined.context("a GetSaga task panicked")?;
        full[index] = Some(got?.into_inner());
    }
    full.into_iter()
        .zip(listed)
        .map(|(saga, listed)| saga.with_context(|| format!("saga {} was not read", listed.saga_id)))
        .collect()
}

/// Every order `orders-svc` holds.
pub async fn all_orders(client: &OrdersClient<Channel>) -> Result<Vec<Order>> {
    orders_in(client, OrderStatus::Unspecified).await
}

/// Every order `orders-svc` holds in `status` (unspecified: in any).
pub async fn orders_in(client: &OrdersClient<Channel>, status: OrderStatus) -> Result<Vec<Order>> {
    let pages = pages("ListOrders", |page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_orders(ListOrdersRequest {
                    page_size: PAGE_SIZE,
                    page_token,
                    status: status.into(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.orders, page.next_page_token))
        }
    })
    .await?;
    Ok(pages.concat())
}

/// Every invoice `invoices-svc` holds.
pub async fn all_invoices(client: &InvoicesClient<Channel>) -> Result<Vec<Invoice>> {
    let pages = pages("ListInvoices", |page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_invoices(ListInvoicesRequest {
                    page_size: PAGE_SIZE,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.invoices, page.next_page_token))
        }
    })
    .await?;
    Ok(pages.concat())
}

/// Fetches pages from an empty token until the service answers an empty next token.
async fn pages<T, F, Fut>(rpc: &str, mut fetch: F) -> Result<Vec<Vec<T>>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut pages = Vec::new();
    let mut seen_tokens = HashSet::new();
    let mut token = String::new();
    loop {
        let (items, next) = fetch(token.clone())
            .await
            .with_context(|| format!("{rpc} with page_token {token:?} failed"))?;
        pages.push(items);
        if next.is_empty() {
            return Ok(pages);
        }
        if !seen_tokens.insert(next.clone()) {
            bail!("{rpc} handed out the page token {next:?} twice");
        }
        if pages.len() >= MAX_PAGES {
            bail!("{rpc} did not end after {MAX_PAGES} pages");
        }
        token = next;
    }
}
