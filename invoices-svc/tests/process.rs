//! Runs the real `invoices-svc` binary on port 0, on each backend, and drives it over gRPC: idempotent
//! creates, tombstones, the amount limit, validation, two processes racing a create and
//! its void on one database, and a clean exit on SIGTERM.

use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context;
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::invoices::v1::{
    CreateInvoiceRequest, GetInvoiceRequest, InvoiceStatus, ListInvoicesRequest, VoidInvoiceRequest,
};
use service_kit::testing::{ServiceProcess, fresh_urls};
use tokio::time::timeout;
use tonic::Code;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);
/// The invoices limit the process runs with.
const LIMIT: i64 = 5_000;

/// A running `invoices-svc` process with its own database, killed when dropped.
struct Running {
    process: ServiceProcess,
    client: InvoicesClient<Channel>,
}

impl Running {
    /// The service on each available backend (see [`fresh_urls`]); the folder keeps the
    /// SQLite file alive.
    async fn on_every_backend() -> anyhow::Result<(tempfile::TempDir, Vec<Self>)> {
        let (dir, urls) = fresh_urls("i.db").await;
        let mut running = Vec::with_capacity(urls.len());
        for url in urls {
            running.push(Self::start(&url).await?);
        }
        Ok((dir, running))
    }

    /// Starts the service on the database at `url`.
    async fn start(url: &str) -> anyhow::Result<Self> {
        let limit = LIMIT.to_string();
        let process = ServiceProcess::start(
            env!("CARGO_BIN_EXE_invoices-svc"),
            url,
            &["--max-invoice-cents", &limit],
        )
        .await
        .with_context(|| format!("start invoices-svc on {url}"))?;
        let client = timeout(WAIT, InvoicesClient::connect(process.url()))
            .await
            .context("connect timed out")??;
        Ok(Self { process, client })
    }

    async fn terminate(self) -> anyhow::Result<ExitStatus> {
        Ok(self.process.terminate().await?)
    }

    async fn all_invoices(&mut self) -> anyhow::Result<Vec<saga_contracts::invoices::v1::Invoice>> {
        let listed = self
            .client
            .list_invoices(ListInvoicesRequest::default())
            .await?;
        Ok(listed.into_inner().invoices)
    }
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
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
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
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
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
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
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
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
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
    let (_dir, services) = Running::on_every_backend().await?;
    for mut svc in services {
        svc.client.create_invoice(create("s-5", 10)).await?;
        let status = svc.terminate().await?;
        assert!(status.success(), "{status:?}");
    }
    Ok(())
}

/// Two processes on one database, each taking one side of a create racing its void, for
/// many sagas at once (on PostgreSQL under the tests' REPEATABLE READ default, which the
/// service's write transactions override): each create either went first and was voided,
/// or found the void's tombstone and was refused; no invoice is left issued.
#[tokio::test]
async fn two_processes_racing_a_create_and_its_void_void_or_refuse_it() -> anyhow::Result<()> {
    let (_dir, urls) = fresh_urls("i.db").await;
    for url in urls {
        let mut first = Running::start(&url).await?;
        let second = Running::start(&url).await?;
        let races = (0..100).map(|i| {
            let (mut creator, mut voider) = (first.client.clone(), second.client.clone());
            tokio::spawn(async move {
                let saga_id = format!("race-{i}");
                let (created, voided) = tokio::join!(
                    creator.create_invoice(create(&saga_id, 700)),
                    voider.void_invoice(void(&saga_id))
                );
                (saga_id, created, voided)
            })
        });
        for race in races {
            let (saga_id, created, voided) = race.await?;
            let voided = voided.with_context(|| format!("{saga_id}: void"))?;
            match (created, voided.into_inner().invoice) {
                (Ok(_), Some(invoice)) => assert_eq!(invoice.status(), InvoiceStatus::Voided),
                (Err(refused), None) => {
                    assert_eq!(refused.code(), Code::FailedPrecondition, "{saga_id}")
                }
                (created, invoice) => panic!("{saga_id} on {url}: {created:?} beside {invoice:?}"),
            }
        }
        let issued: Vec<_> = first
            .all_invoices()
            .await?
            .into_iter()
            .filter(|i| i.status() != InvoiceStatus::Voided)
            .collect();
        assert_eq!(issued, vec![], "on {url}");
    }
    Ok(())
}
