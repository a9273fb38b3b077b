//! grpcurl works against each service out of the box: the orchestrator, orders-svc and
//! invoices-svc answer gRPC server reflection (v1 and v1alpha), listing their services
//! and describing them down to their messages.

use anyhow::{Context, Result, bail};
use saga_tests::{Backend, Cluster, ClusterOptions};
use tonic::transport::{Channel, Endpoint};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};
use tonic_reflection::pb::v1alpha;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_answers_server_reflection() -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default().backend(Backend::Sqlite)).await?;
    let services = [
        (
            cluster.orchestrator_url().context("no orchestrator")?,
            "saga.v1.Orchestrator",
        ),
        (cluster.orders_url(), "orders.v1.Orders"),
        (cluster.invoices_url(), "invoices.v1.Invoices"),
    ];
    for (url, service) in services {
        let listed = match ask(&url, MessageRequest::ListServices(String::new())).await? {
            MessageResponse::ListServicesResponse(list) => list.service,
            other => bail!("{url}: {other:?}"),
        };
        let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
        for expected in [
            service,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(names.contains(&expected), "{url} lists {names:?}");
        }
        let described = ask(&url, MessageRequest::FileContainingSymbol(service.into())).await?;
        let MessageResponse::FileDescriptorResponse(files) = described else {
            bail!("{url}: no file for {service}: {described:?}");
        };
        assert!(!files.file_descriptor_proto.is_empty(), "{url}: {service}");
        assert_eq!(
            v1alpha_services(&url).await?,
            listed.len(),
            "{url}: v1alpha"
        );
    }
    Ok(())
}

/// One request to the v1 service, its answer.
async fn ask(url: &str, request: MessageRequest) -> Result<MessageResponse> {
    let mut client = ServerReflectionClient::new(channel(url).await?);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let answer: Option<ServerReflectionResponse> = answers.message().await?;
    answer
        .and_then(|a| a.message_response)
        .context("no reflection answer")
}

/// How many services the v1alpha reflection service lists.
async fn v1alpha_services(url: &str) -> Result<usize> {
    use v1alpha::server_reflection_client::ServerReflectionClient as Client;
    use v1alpha::server_reflection_request::MessageRequest as Request;
    use v1alpha::server_reflection_response::MessageResponse as Response;
    let mut client = Client::new(channel(url).await?);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(Request::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(Response::ListServicesResponse(list)) => Ok(list.service.len()),
        other => bail!("{url}: v1alpha answered {other:?}"),
    }
}

async fn channel(url: &str) -> Result<Channel> {
    Ok(Endpoint::from_shared(url.to_string())?.connect().await?)
}
