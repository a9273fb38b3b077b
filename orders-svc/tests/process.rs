//! Runs the real `orders-svc` binary on port 0, on each backend, and drives it over gRPC: idempotent
//! creates, tombstones, validation, and a clean exit on SIGTERM.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::orders::v1::{
    CancelOrderRequest, ConfirmOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem,
    ListOrdersRequest, OrderStatus,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;
use tonic::Code;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

/// Names the PostgreSQL server of the tests, e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
const POSTGRES_ENV: &str = "SAGA_TEST_POSTGRES_URL";

/// A running `orders-svc` process with its own database, killed when dropped.
struct Running {
    child: Child,
    client: OrdersClient<Channel>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    /// The service on each available backend: a SQLite file always, and a new PostgreSQL
    /// database when `SAGA_TEST_POSTGRES_URL` names a server.
    async fn on_every_backend() -> anyhow::Result<Vec<Self>> {
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}", dir.path().join("o.db").display());
        let mut running = vec![Self::start(&sqlite, Some(dir)).await?];
        if let Ok(server) = std::env::var(POSTGRES_ENV) {
            let postgres = service_kit::db::fresh_postgres_database(&server).await?;
            running.push(Self::start(&postgres, None).await?);
        }
        Ok(running)
    }

    /// Starts the service on the database at `url`; `dir` holds its file, if any.
    async fn start(url: &str, dir: Option<tempfile::TempDir>) -> anyhow::Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_orders-svc"))
            .args(["--listen", "127.0.0.1:0", "--database-url", url])
            .env_remove("FAULTS")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn orders-svc on {url}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let addr = timeout(WAIT, listening_addr(BufReader::new(stdout)))
            .await
            .context("no `listening on` line in time")??;
        let client = timeout(WAIT, OrdersClient::connect(format!("http://{addr}")))
            .await
            .context("connect timed out")??;
        Ok(Self {
            child,
            client,
            _dir: dir,
        })
    }

    async fn terminate(mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().context("the process already exited")?;
        kill(Pid::from_raw(i32::try_from(pid)?), Signal::SIGTERM)?;
        Ok(timeout(WAIT, self.child.wait())
            .await
            .context("no exit after SIGTERM")??)
    }
}

async fn listening_addr(
    stdout: BufReader<tokio::process::ChildStdout>,
) -> anyhow::Result<SocketAddr> {
    let mut lines = stdout.lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(addr) = line.strip_prefix("listening on ") {
            return Ok(addr.trim().parse()?);
        }
    }
    bail!("stdout closed before the `listening on` line")
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

fn list_all() -> ListOrdersRequest {
    ListOrdersRequest::default()
}

#[tokio::test]
async fn a_repeated_create_returns_the_first_order_and_creates_one() -> anyhow::Result<()> {
    for mut svc in Running::on_every_backend().await? {
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
async fn a_cancel_before_create_leaves_a_tombstone_that_refuses_a_late_create() -> anyhow::Result<()>
{
    for mut svc in Running::on_every_backend().await? {
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
    for mut svc in Running::on_every_backend().await? {
        let order = svc.client.create_order(create("s-3")).await?.into_inner();
        let confirm = ConfirmOrderRequest {
            saga_id: "s-3".to_string(),
            order_id: order.order_id.clone(),
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
    for mut svc in Running::on_every_backend().await? {
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
    for mut svc in Running::on_every_backend().await? {
        svc.client.create_order(create("s-5")).await?;
        let status = svc.terminate().await?;
        assert!(status.success(), "{status:?}");
    }
    Ok(())
}
