//! Runs the real `invoices-svc` binary on port 0, on each backend, and drives it over gRPC: idempotent
//! creates, tombstones, the amount limit, validation, and a clean exit on SIGTERM.

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::invoices::v1::{
    CreateInvoiceRequest, GetInvoiceRequest, InvoiceStatus, ListInvoicesRequest, VoidInvoiceRequest,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;
use tonic::Code;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

/// Names the PostgreSQL server of the tests, e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
const POSTGRES_ENV: &str = "SAGA_TEST_POSTGRES_URL";
const LIMIT: i64 = 5_000;

/// A running `invoices-svc` process with its own database, killed when dropped.
struct Running {
    child: Child,
    client: InvoicesClient<Channel>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    /// The service on each available backend: a SQLite file always, and a new PostgreSQL
    /// database when `SAGA_TEST_POSTGRES_URL` names a server.
    async fn on_every_backend() -> anyhow::Result<Vec<Self>> {
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}", dir.path().join("i.db").display());
        let mut running = vec![Self::start(&sqlite, Some(dir)).await?];
        if let Ok(server) = std::env::var(POSTGRES_ENV) {
            let postgres = service_kit::db::fresh_postgres_database(&server).await?;
            running.push(Self::start(&postgres, None).await?);
        }
        Ok(running)
    }

    /// Starts the service on the database at `url`; `dir` holds its file, if any.
    async fn start(url: &str, dir: Option<tempfile::TempDir>) -> anyhow::Result<Self> {
        let limit = LIMIT.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_invoices-svc"))
            .args(["--listen", "127.0.0.1:0", "--database-url", url])
            .args(["--max-invoice-cents", &limit])
            .env_remove("FAULTS")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn invoices-svc on {url}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let addr = timeout(WAIT, listening_addr(BufReader::new(stdout)))
            .await
            .context("no `listening on` line in time")??;
        let client = timeout(WAIT, InvoicesClient::connect(format!("http://{addr}")))
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

    async fn all_invoices(&mut self) -> anyhow::Result<Vec<saga_contracts::invoices::v1::Invoice>> {
        let listed = self
            .client
            .list_invoices(ListInvoicesRequest::default())
            .await?;
        Ok(listed.into_inner().invoices)
    }
}

async fn listening_addr(stdout: BufReader<ChildStdout>) -> anyhow::Result<SocketAddr> {
    let mut lines = stdout.lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(addr) = line.strip_prefix("listening on ") {
            return Ok(addr.trim().parse()?);
        }
    }
    bail!("stdout closed before the `listening on` line")
}

fn create(saga_id: &str, amount_cents: i64) -> CreateInvoiceRequest {
    CreateInvoiceRequest {
        saga_id: saga_id.to_string(),
        order_id: format!("order-of-{saga_id}"),
        customer_id: "c-1".to_string(),
        amount_cents,
        currency: "EUR".to_string(),
    }
}

fn void(saga_id: &str) -> VoidInvoiceRequest {
    VoidInvoiceRequest {
        saga_id: saga_id.to_string(),
        invoice_id: String::new(),
    }
}

#[tokio::test]
async fn a_repeated_create_returns_the_first_invoice_and_issues_one() -> anyhow::Result<()> {
    for mut svc in Running::on_every_backend().await? {
        let first = svc
            .client
            .create_invoice(create("s-1", 700))
            .await?
            .into_inner();
        let again = svc
            .client
            .create_invoice(create("s-1", 700))
            .await?
            .into_inner();
        assert_eq!(again, first);
        assert_eq!(first.status(), InvoiceStatus::Issued);
        assert_eq!(svc.all_invoices().await?, vec![first.clone()]);
        let got = svc
            .client
            .get_invoice(GetInvoiceRequest {
                invoice_id: first.invoice_id.clone(),
            })
            .await?
            .into_inner();
        assert_eq!(got, first);
        let voided = svc.client.void_invoice(void("s-1")).await?.into_inner();
        assert_eq!(
            voided.invoice.map(|i| i.status()),
            Some(InvoiceStatus::Voided)
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_void_before_create_leaves_a_tombstone_that_refuses_a_late_create() -> anyhow::Result<()>
{
    for mut svc in Running::on_every_backend().await? {
        let tombstone = svc.client.void_invoice(void("s-2")).await?.into_inner();
        assert_eq!(tombstone.invoice, None);
        let late = svc
            .client
            .create_invoice(create("s-2", 700))
            .await
            .expect_err("a late create must be refused");
        assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
        assert_eq!(svc.all_invoices().await?, vec![]);
    }
    Ok(())
}

#[tokio::test]
async fn an_invoice_over_the_limit_is_refused_and_issues_nothing() -> anyhow::Result<()> {
    for mut svc in Running::on_every_backend().await? {
        let refused = svc
            .client
            .create_invoice(create("s-3", LIMIT + 1))
            .await
            .expect_err("over the limit must be refused");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert!(
            refused.message().contains(&LIMIT.to_string()),
            "{refused:?}"
        );
        assert_eq!(svc.all_invoices().await?, vec![]);
    }
    Ok(())
}

#[tokio::test]
async fn a_bad_request_is_invalid_argument_naming_the_field_and_writes_nothing()
-> anyhow::Result<()> {
    for mut svc in Running::on_every_backend().await? {
        let refused = svc
            .client
            .create_invoice(create("s-4", 0))
            .await
            .expect_err("a zero amount must be refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(refused.message().starts_with("amount_cents"), "{refused:?}");
        assert_eq!(svc.all_invoices().await?, vec![]);
        // Nothing was recorded for the saga either: a good create still goes through.
        svc.client.create_invoice(create("s-4", 10)).await?;
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_makes_the_process_exit_cleanly() -> anyhow::Result<()> {
    for mut svc in Running::on_every_backend().await? {
        svc.client.create_invoice(create("s-5", 10)).await?;
        let status = svc.terminate().await?;
        assert!(status.success(), "{status:?}");
    }
    Ok(())
}
