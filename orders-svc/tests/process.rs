//! Runs the real `orders-svc` binary on port 0, on each backend, and drives it over gRPC: idempotent
//! creates, tombstones, validation, two processes racing a create and its cancel on one
//! database, and a clean exit on SIGTERM.

use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::orders::v1::{
    CancelOrderRequest, ConfirmOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem,
    ListOrdersRequest, OrderEvent, OrderStatus, PlaceOrderRequest, WatchOrderEventsRequest,
};
use service_kit::testing::{ServiceProcess, fresh_urls};
use tokio::time::timeout;
use tonic::Code;
use tonic::Streaming;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

/// A running `orders-svc` process with its own database, killed when dropped.
struct Running {
    process: ServiceProcess,
    client: OrdersClient<Channel>,
}

impl Running {
    /// The service on each available backend (see [`fresh_urls`]); the folder keeps the
    /// SQLite file alive.
    async fn on_every_backend() -> anyhow::Result<(tempfile::TempDir, Vec<Self>)> {
        let (dir, urls) = fresh_urls("o.db").await;
        let mut running = Vec::with_capacity(urls.len());
        for url in urls {
            running.push(Self::start(&url).await?);
        }
        Ok((dir, running))
    }

    /// Starts the service on the database at `url`.
    async fn start(url: &str) -> anyhow::Result<Self> {
        let process = ServiceProcess::start(env!("CARGO_BIN_EXE_orders-svc"), url, &[])
            .await
            .with_context(|| format!("start orders-svc on {url}"))?;
        let client = timeout(WAIT, OrdersClient::connect(process.url()))
            .await
            .context("connect timed out")??;
        Ok(Self { process, client })
    }

    async fn terminate(self) -> anyhow::Result<ExitStatus> {
        Ok(self.process.terminate().await?)
    }
}

fn create(saga_id: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        saga_id: saga_id.to_string(),
        customer_id: "c-1".to_string(),
        items: vec![LineItem {
            sku: "SKU-1".to_string(),
            quantity: 3,
            unit_price_cents: 250,
        }],
        currency: "EUR".to_string(),
    }
}

fn place(key: &str) -> PlaceOrderRequest {
    let CreateOrderRequest {
        customer_id,
        items,
        currency,
        ..
    } = create("unused");
    PlaceOrderRequest {
        idempotency_key: key.to_string(),
        customer_id,
        items,
        currency,
    }
}

/// The next event of `stream`, as (event id, order idempotency key).
async fn next(stream: &mut Streaming<OrderEvent>) -> anyhow::Result<(u64, String)> {
    let event = timeout(WAIT, stream.message())
        .await??
        .context("the stream ended")?;
    let key = event.order.map(|o| o.idempotency_key).unwrap_or_default();
    Ok((event.event_id, key))
}

fn list_all() -> ListOrdersRequest {
    ListOrdersRequest::default()
}

#[tokio::test]
async fn a_repeated_create_returns_the_first_order_and_creates_one() -> anyhow::Result<()> {
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        let first = svc.client.create_order(create("s-1")).await?.into_inner();
        let again = svc.client.create_order(create("s-1")).await?.into_inner();
        assert_eq!(again, first);
        assert_eq!(first.status(), OrderStatus::Pending);
        assert_eq!(first.total_cents, 750);
        let listed = svc.client.list_orders(list_all()).await?.into_inner();
        assert_eq!(listed.orders, vec![first.clone()]);
        let got = svc
            .client
            .get_order(GetOrderRequest {
                order_id: first.order_id.clone(),
            })
            .await?
            .into_inner();
        assert_eq!(got, first);
    }
    Ok(())
}

#[tokio::test]
async fn the_event_stream_replays_the_outbox_follows_new_events_and_resumes_after_an_id()
-> anyhow::Result<()> {
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        svc.client.place_order(place("k1")).await?;
        svc.client.place_order(place("k2")).await?;
        let watch = |after_event_id| WatchOrderEventsRequest { after_event_id };
        let mut stream = svc.client.watch_order_events(watch(0)).await?.into_inner();
        let (first, key) = next(&mut stream).await?;
        assert_eq!(key, "k1");
        assert_eq!(next(&mut stream).await?.1, "k2");
        svc.client.place_order(place("k3")).await?;
        assert_eq!(next(&mut stream).await?.1, "k3");
        let mut resumed = svc
            .client
            .watch_order_events(watch(first))
            .await?
            .into_inner();
        assert_eq!(next(&mut resumed).await?.1, "k2");
        assert_eq!(next(&mut resumed).await?.1, "k3");
    }
    Ok(())
}

#[tokio::test]
async fn a_cancel_before_create_leaves_a_tombstone_that_refuses_a_late_create() -> anyhow::Result<()>
{
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        let cancel = CancelOrderRequest {
            saga_id: "s-2".to_string(),
            order_id: String::new(),
        };
        let cancelled = svc.client.cancel_order(cancel).await?.into_inner();
        assert_eq!(cancelled.order, None);
        let late = svc
            .client
            .create_order(create("s-2"))
            .await
            .expect_err("a late create must be refused");
        assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
        let listed = svc.client.list_orders(list_all()).await?.into_inner();
        assert_eq!(listed.orders, vec![]);
    }
    Ok(())
}

#[tokio::test]
async fn a_confirmed_order_cannot_be_cancelled() -> anyhow::Result<()> {
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        let order = svc.client.create_order(create("s-3")).await?.into_inner();
        let confirm = ConfirmOrderRequest {
            saga_id: "s-3".to_string(),
            order_id: order.order_id.clone(),
            ..Default::default()
        };
        let confirmed = svc.client.confirm_order(confirm).await?.into_inner();
        assert_eq!(confirmed.status(), OrderStatus::Confirmed);
        let cancel = CancelOrderRequest {
            saga_id: "s-3".to_string(),
            order_id: order.order_id.clone(),
        };
        let refused = svc
            .client
            .cancel_order(cancel)
            .await
            .expect_err("a confirmed order must not be cancelled");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    Ok(())
}

#[tokio::test]
async fn a_bad_request_is_invalid_argument_naming_the_field_and_writes_nothing()
-> anyhow::Result<()> {
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        let mut bad = create("s-4");
        bad.items[0].quantity = 0;
        let refused = svc
            .client
            .create_order(bad)
            .await
            .expect_err("a zero quantity must be refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused.message().starts_with("items[0].quantity"),
            "{refused:?}"
        );
        let listed = svc.client.list_orders(list_all()).await?.into_inner();
        assert_eq!(listed.orders, vec![]);
        // Nothing was recorded for the saga either: a good create still goes through.
        svc.client.create_order(create("s-4")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_makes_the_process_exit_cleanly() -> anyhow::Result<()> {
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        svc.client.create_order(create("s-5")).await?;
        let status = svc.terminate().await?;
        assert!(status.success(), "{status:?}");
    }
    Ok(())
}

/// Two processes on one database, each taking one side of a create racing its cancel, for
/// many sagas at once (on PostgreSQL under the tests' REPEATABLE READ default, which the
/// service's write transactions override): each create either went first and was undone
/// by its cancel, or found the cancel's tombstone and was refused.
#[tokio::test]
async fn two_processes_racing_a_create_and_its_cancel_undo_or_refuse_it() -> anyhow::Result<()> {
    let (_dir, urls) = fresh_urls("o.db").await;
    for url in urls {
        let first = Running::start(&url).await?;
        let second = Running::start(&url).await?;
        let races = (0..100).map(|i| {
            let (mut creator, mut canceller) = (first.client.clone(), second.client.clone());
            tokio::spawn(async move {
                let saga_id = format!("race-{i}");
                let cancel = CancelOrderRequest {
                    saga_id: saga_id.clone(),
                    order_id: String::new(),
                };
                let (created, cancelled) = tokio::join!(
                    creator.create_order(create(&saga_id)),
                    canceller.cancel_order(cancel)
                );
                (saga_id, created, cancelled)
            })
        });
        for race in races {
            let (saga_id, created, cancelled) = race.await?;
            let cancelled = cancelled.with_context(|| format!("{saga_id}: cancel"))?;
            match (created, cancelled.into_inner().order) {
                (Ok(_), Some(order)) => assert_eq!(order.status(), OrderStatus::Cancelled),
                (Err(refused), None) => {
                    assert_eq!(refused.code(), Code::FailedPrecondition, "{saga_id}")
                }
                (created, order) => panic!("{saga_id} on {url}: {created:?} beside {order:?}"),
            }
        }
    }
    Ok(())
}
