//! The stack under the page: started with the orchestrator's HTTP listener on a free
//! port, orders placed and sagas read through gRPC, and invoices-svc paused for a while.

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{GetSagaRequest, PlaceOrderRequest, Saga, SagaStatus};
use saga_tests::poll::{Check, eventually};
use saga_tests::requests::{item, order};
use saga_tests::supervisor::Signaller;
use saga_tests::{Cluster, ClusterOptions};
use tonic::transport::Channel;

use crate::page::PATIENCE;

/// The invoice limit of these tests' invoices-svc: a saga over it compensates.
pub const LIMIT_CENTS: i64 = 100_000;

/// A stack whose orchestrator serves the page on a free port; its `http://IP:PORT`.
pub async fn stack(options: ClusterOptions) -> Result<(Cluster, String)> {
    let cluster = Cluster::start(
        options
            .max_invoice_cents(LIMIT_CENTS)
            .orchestrator_arg("--http-listen=127.0.0.1:0"),
    )
    .await?;
    let http = cluster
        .orchestrator_http_addr()
        .context("the orchestrator announced no HTTP listener")?;
    Ok((cluster, format!("http://{http}")))
}

/// Places an order and answers its saga as it stands after `wait_ms` (0: once it ended).
pub async fn place(
    client: &OrchestratorClient<Channel>,
    key: &str,
    cents: i64,
    wait_ms: u32,
) -> Result<Saga> {
    let request = PlaceOrderRequest {
        wait_ms,
        ..order(key, "web-customer", vec![item("sku-lamp", 1, cents)])
    };
    let answer = client.clone().place_order(request).await?.into_inner();
    answer.saga.context("PlaceOrder answered no saga")
}

/// The saga once it has ended.
pub async fn wait_until_ended(client: &OrchestratorClient<Channel>, saga_id: &str) -> Result<Saga> {
    eventually(PATIENCE, "the saga to end", || async {
        let saga = get(client, saga_id).await?;
        Ok(match saga.status() {
            SagaStatus::Running | SagaStatus::Compensating => {
                Check::NotYet(saga.status().as_str_name().to_string())
            }
            _ => Check::Done(saga),
        })
    })
    .await
}

/// Waits until the saga's current call is parked.
pub async fn wait_until_parked(client: &OrchestratorClient<Channel>, saga_id: &str) -> Result<()> {
    eventually(PATIENCE, "the saga to be parked", || async {
        let saga = get(client, saga_id).await?;
        Ok(match saga.parked {
            true => Check::Done(()),
            false => Check::NotYet(saga.status().as_str_name().to_string()),
        })
    })
    .await
}

/// Waits until the saga's `step` has made `n` calls.
pub async fn wait_for_calls(
    client: &OrchestratorClient<Channel>,
    saga_id: &str,
    step: &str,
    n: usize,
) -> Result<()> {
    let what = format!("{n} calls of {step}");
    eventually(PATIENCE, &what, || async {
        let saga = get(client, saga_id).await?;
        let made = saga
            .steps
            .iter()
            .find(|s| s.name == step)
            .map_or(0, |s| s.calls.len());
        Ok(match made >= n {
            true => Check::Done(()),
            false => Check::NotYet(format!("{made} calls")),
        })
    })
    .await
}

/// The saga as it stands.
pub async fn get(client: &OrchestratorClient<Channel>, saga_id: &str) -> Result<Saga> {
    let request = GetSagaRequest {
        saga_id: saga_id.to_string(),
    };
    Ok(client.clone().get_saga(request).await?.into_inner())
}

/// Resumes the paused participant when dropped, also when the test fails half-way.
pub struct Paused<'a>(&'a Signaller);

impl<'a> Paused<'a> {
    /// Pauses the participant behind `signaller` (SIGSTOP).
    pub fn pause(signaller: &'a Signaller) -> Result<Self> {
        signaller.send(Signal::SIGSTOP)?;
        Ok(Self(signaller))
    }
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        let _ = self.0.send(Signal::SIGCONT);
    }
}
