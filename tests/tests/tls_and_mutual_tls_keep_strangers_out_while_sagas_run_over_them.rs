//! With certificates made for the test, the whole saga runs over mutual TLS (the
//! orchestrator verifies the participants against the CA and presents its client
//! certificate, the participants require one), while strangers are kept out: a plain
//! client is refused by a TLS server, a client without a certificate by a participant
//! that requires one, and a certificate another CA signed likewise. The HTTP listeners
//! (metrics, the web page) serve TLS from the same flags, the participants' only to
//! clients with a certificate.

use anyhow::{Context, Result, ensure};
use saga_contracts::orders::v1::GetOrderRequest;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{ListSagasRequest, SagaStatus};
use saga_tests::binaries::Binary;
use saga_tests::requests::small_order;
use saga_tests::tls::TlsFiles;
use saga_tests::{Cluster, ClusterOptions};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls_keep_strangers_out_while_sagas_run_over_them() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ours = TlsFiles::generate(dir.path(), "ours")?;
    let theirs = TlsFiles::generate(dir.path(), "theirs")?;
    let options = ClusterOptions::default().tls(ours.clone()).metrics();
    let cluster = Cluster::start(options).await?;

    let placed = cluster
        .orchestrator()
        .place_order(small_order(1))
        .await?
        .into_inner();
    let saga = placed.saga.context("no saga")?;
    ensure!(saga.status() == SagaStatus::Completed, "{saga:?}");

    let orchestrator = cluster.orchestrator_url().context("no orchestrator")?;
    ensure!(orchestrator.starts_with("https://"), "{orchestrator}");
    let plain = orchestrator.replacen("https://", "http://", 1);
    let answer = list_sagas(&plain, None).await;
    ensure!(
        answer.is_err(),
        "a plain client was served by a TLS server: {answer:?}"
    );
    // The orchestrator asks for no client certificate: a client that trusts its CA is in.
    list_sagas(&orchestrator, Some(ours.client(false)?)).await?;

    let orders = cluster.orders_url();
    let answer = get_order(&orders, ours.client(false)?).await;
    ensure!(
        answer.is_err(),
        "a client without a certificate was served: {answer:?}"
    );
    let foreign = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&ours.ca)?))
        .identity(Identity::from_pem(
            std::fs::read(&theirs.client_cert)?,
            std::fs::read(&theirs.client_key)?,
        ));
    let answer = get_order(&orders, foreign).await;
    ensure!(
        answer.is_err(),
        "a certificate of another CA was served: {answer:?}"
    );
    // Our own client certificate is let in (the order is not there: NOT_FOUND).
    let answer = get_order(&orders, ours.client(true)?).await;
    ensure!(
        answer
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .is_some_and(|e| e.contains("NotFound") || e.contains("not found")),
        "our client certificate was not let in: {answer:?}"
    );
    https_listeners_keep_strangers_out(&cluster, &ours).await
}

/// The HTTP listeners over TLS: plain HTTP is refused; the orchestrator's page and metrics
/// answer a client that trusts the CA; a participant's, only one that presents our
/// client certificate.
async fn https_listeners_keep_strangers_out(cluster: &Cluster, ours: &TlsFiles) -> Result<()> {
    let page = cluster
        .orchestrator_http_addr()
        .context("no HTTP listener")?;
    let answer = saga_tests::http::get(page, "/metrics").await;
    ensure!(answer.is_err(), "plain HTTP was served: {answer:?}");
    let metrics = ours.https_get(page, "/metrics", false).await?;
    ensure!(metrics.contains("saga_sagas_started_total"), "{metrics}");
    let index = ours.https_get(page, "/", false).await?;
    ensure!(index.contains("<html"), "{index}");

    let orders = cluster
        .participant_http_addr(Binary::OrdersSvc)
        .context("no orders-svc HTTP listener")?;
    let answer = ours.https_get(orders, "/metrics", false).await;
    ensure!(
        answer.is_err(),
        "a participant's metrics were served without a client certificate: {answer:?}"
    );
    let metrics = ours.https_get(orders, "/metrics", true).await?;
    ensure!(metrics.contains("participant_requests_total"), "{metrics}");
    Ok(())
}

/// ListSagas at `url` over `tls` (none: plain).
async fn list_sagas(url: &str, tls: Option<ClientTlsConfig>) -> Result<()> {
    let mut endpoint = Endpoint::from_shared(url.to_string())?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls)?;
    }
    let mut client = OrchestratorClient::new(endpoint.connect().await?);
    client.list_sagas(ListSagasRequest::default()).await?;
    Ok(())
}

/// GetOrder of an order that does not exist, at orders-svc over `tls`.
async fn get_order(url: &str, tls: ClientTlsConfig) -> Result<()> {
    let endpoint = Endpoint::from_shared(url.to_string())?.tls_config(tls)?;
    let mut client = OrdersClient::new(endpoint.connect().await?);
    let request = GetOrderRequest {
        order_id: "no-such-order".into(),
    };
    client.get_order(request).await?;
    Ok(())
}
