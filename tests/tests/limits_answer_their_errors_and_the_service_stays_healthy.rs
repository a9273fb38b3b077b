//! The orchestrator's limits against abuse each answer their error, and the service stays
//! healthy for everyone else: a request over `--max-request-bytes` is OUT_OF_RANGE, a
//! watch over `--max-watchers-per-connection` on one connection RESOURCE_EXHAUSTED (an
//! ended watch gives its room back; another connection has its own), and an operator's
//! action over `--operator-actions-per-minute` RESOURCE_EXHAUSTED.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_tests::poll::{Check, eventually};
use saga_tests::{Cluster, ClusterOptions};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_their_errors_and_the_service_stays_healthy() -> Result<()> {
    let cluster = Cluster::start(
        ClusterOptions::default()
            .orchestrator_arg("--max-request-bytes=4096")
            .orchestrator_arg("--max-watchers-per-connection=2")
            .orchestrator_arg("--operator-actions-per-minute=3"),
    )
    .await?;
    let url = cluster.orchestrator_url().context("no orchestrator")?;

    let client = connect(&url).await?;
    let big = pb::RegisterDefinitionRequest {
        definition: Some(pb::SagaDefinition {
            name: "big".into(),
            description: "x".repeat(8_192),
            ..Default::default()
        }),
        validate_only: true,
    };
    let refused = client.clone().register_definition(big).await;
    ensure!(code(&refused) == Some(Code::OutOfRange), "{refused:?}");
    healthy(&url).await?;

    // Two watches on one connection, a third refused, one on another connection taken.
    let watch = |client: OrchestratorClient<Channel>| async move {
        client
            .clone()
            .watch_sagas(pb::WatchSagasRequest::default())
            .await
    };
    let first = watch(client.clone()).await?;
    let _second = watch(client.clone()).await?;
    let third = watch(client.clone()).await;
    ensure!(code(&third) == Some(Code::ResourceExhausted), "{third:?}");
    let elsewhere = watch(connect(&url).await?).await;
    ensure!(
        elsewhere.is_ok(),
        "another connection has room: {elsewhere:?}"
    );
    drop(first);
    eventually(
        Duration::from_secs(30),
        "an ended watch's room back",
        || {
            let client = client.clone();
            async move {
                Ok(match watch(client).await {
                    Ok(stream) => Check::Done(stream),
                    Err(status) => Check::NotYet(format!("{status:?}")),
                })
            }
        },
    )
    .await?;
    healthy(&url).await?;

    // Three actions a minute for anonymous; the fourth is refused before it is looked at.
    for n in 1..=4 {
        let request = pb::ResolveSagaRequest {
            saga_id: "no-such-saga".into(),
            reason: "checking the limit".into(),
            request_id: format!("limit-{n}"),
        };
        let answer = client.clone().resolve_saga(request).await;
        let expected = if n <= 3 {
            Code::NotFound
        } else {
            Code::ResourceExhausted
        };
        ensure!(code(&answer) == Some(expected), "action {n}: {answer:?}");
    }
    let reads = client
        .clone()
        .list_sagas(pb::ListSagasRequest::default())
        .await;
    ensure!(reads.is_ok(), "reads go on: {reads:?}");
    healthy(&url).await
}

/// A client on a connection of its own.
async fn connect(url: &str) -> Result<OrchestratorClient<Channel>> {
    let channel = Endpoint::from_shared(url.to_string())?.connect().await?;
    Ok(OrchestratorClient::new(channel))
}

fn code<T>(answer: &Result<T, tonic::Status>) -> Option<Code> {
    answer.as_ref().err().map(tonic::Status::code)
}

/// The orchestrator's health check answers SERVING.
async fn healthy(url: &str) -> Result<()> {
    let channel = Endpoint::from_shared(url.to_string())?.connect().await?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    ensure!(answer.status == 1, "health: {answer:?}");
    Ok(())
}
