//! With `--auth-token-file` and `--auth-read`, every protected call of the orchestrator,
//! over gRPC and through the web page's API alike, answers UNAUTHENTICATED (HTTP 401)
//! without a token or with one it does not know, PERMISSION_DENIED (403) to a holder
//! whose role does not allow it, and lets the right role through; starting sagas needs no
//! token; the operator's record names the principal; and a new token file is in force
//! after SIGHUP, the old tokens no longer.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use nix::sys::signal::Signal;
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_tests::http::send;
use saga_tests::poll::{Check, eventually};
use saga_tests::requests::large_order;
use saga_tests::{Cluster, ClusterOptions};
use tonic::transport::Channel;
use tonic::{Code, Request};

const ADMIN: &str = "admin-token-00000000";
const OPERATOR: &str = "operator-token-00000";
const READER: &str = "reader-token-0000000";
const UNKNOWN: &str = "nobody-knows-this-token";
const TOKENS: &str = "# principal:role:token\n\
    ann:admin:admin-token-00000000\n\
    ola:operator:operator-token-00000\n\
    rex:reader:reader-token-0000000\n";

/// The protected calls, by the role they need.
#[derive(Debug, Clone, Copy)]
enum Call {
    GetSaga,
    ListSagas,
    WatchSaga,
    WatchSagas,
    ListReplicas,
    GetDefinition,
    ListDefinitions,
    RetrySaga,
    AbortSaga,
    ResolveSaga,
    SkipStep,
    RegisterDefinition,
}

const READS: [Call; 7] = [
    Call::GetSaga,
    Call::ListSagas,
    Call::WatchSaga,
    Call::WatchSagas,
    Call::ListReplicas,
    Call::GetDefinition,
    Call::ListDefinitions,
];
const ACTIONS: [Call; 4] = [
    Call::RetrySaga,
    Call::AbortSaga,
    Call::ResolveSaga,
    Call::SkipStep,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_every_protected_call_over_grpc_and_the_web_page() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("tokens");
    std::fs::write(&file, TOKENS)?;
    let cluster = Cluster::start(
        ClusterOptions::default()
            .orders_faults("CancelOrder:refuse:1")
            .orchestrator_arg(format!("--auth-token-file={}", file.display()))
            .orchestrator_arg("--auth-read")
            .orchestrator_arg("--http-listen=127.0.0.1:0"),
    )
    .await?;
    let client = cluster.orchestrator();
    // Clients start sagas without a token: an over-limit order whose cancellation is
    // refused ends FAILED, for the operator to resolve.
    let placed = client
        .clone()
        .place_order(large_order(1))
        .await?
        .into_inner();
    let failed = placed.saga.context("no saga")?;
    ensure!(failed.status() == pb::SagaStatus::Failed, "{failed:?}");

    for call in READS {
        expect_roles(&client, call, READER, None).await?;
    }
    for call in ACTIONS {
        expect_roles(&client, call, OPERATOR, Some(READER)).await?;
    }
    expect_roles(&client, Call::RegisterDefinition, ADMIN, Some(OPERATOR)).await?;

    let resolved = make(&client, Call::ResolveSaga, Some(OPERATOR), &failed.saga_id).await?;
    let record = resolved.log.iter().find(|e| e.step == "operator");
    ensure!(
        record.is_some_and(|r| r.detail.starts_with("by ola ")),
        "the operator's record names ola: {record:?}"
    );

    let web = cluster
        .orchestrator_http_addr()
        .context("no HTTP listener")?;
    web_page(web, &failed.saga_id).await?;
    rotation(&cluster, &file).await
}

/// `call` fails UNAUTHENTICATED without a token and with an unknown one, PERMISSION_DENIED
/// with `weaker` (if given), and gets past the check with `token`.
async fn expect_roles(
    client: &OrchestratorClient<Channel>,
    call: Call,
    token: &str,
    weaker: Option<&str>,
) -> Result<()> {
    for (given, code) in [
        (None, Code::Unauthenticated),
        (Some(UNKNOWN), Code::Unauthenticated),
    ] {
        let answer = code_of(make(client, call, given, "no-such-saga").await);
        ensure!(answer == Some(code), "{call:?} with {given:?}: {answer:?}");
    }
    if let Some(weaker) = weaker {
        let answer = code_of(make(client, call, Some(weaker), "no-such-saga").await);
        ensure!(
            answer == Some(Code::PermissionDenied),
            "{call:?} with a weaker role: {answer:?}"
        );
    }
    let answer = code_of(make(client, call, Some(token), "no-such-saga").await);
    ensure!(
        !matches!(answer, Some(Code::Unauthenticated | Code::PermissionDenied)),
        "{call:?} with its role: {answer:?}"
    );
    Ok(())
}

fn code_of(answer: Result<pb::Saga, tonic::Status>) -> Option<Code> {
    answer.err().map(|status| status.code())
}

/// Makes `call` (on `saga_id` where it names a saga) with `token`; the saga it answers,
/// or a default one for calls that answer something else.
async fn make(
    client: &OrchestratorClient<Channel>,
    call: Call,
    token: Option<&str>,
    saga_id: &str,
) -> Result<pb::Saga, tonic::Status> {
    let mut client = client.clone();
    let id = saga_id.to_string();
    let why = || ("checking tokens".to_string(), format!("{call:?}-{token:?}"));
    let (reason, request_id) = why();
    let none = || pb::Saga::default();
    match call {
        Call::GetSaga => client
            .get_saga(with(token, pb::GetSagaRequest { saga_id: id }))
            .await
            .map(|r| r.into_inner()),
        Call::ListSagas => client
            .list_sagas(with(token, pb::ListSagasRequest::default()))
            .await
            .map(|_| none()),
        Call::WatchSaga => {
            let request = pb::WatchSagaRequest {
                saga_id: id,
                from_seq: 0,
            };
            client
                .watch_saga(with(token, request))
                .await
                .map(|_| none())
        }
        Call::WatchSagas => client
            .watch_sagas(with(token, pb::WatchSagasRequest::default()))
            .await
            .map(|_| none()),
        Call::ListReplicas => client
            .list_replicas(with(token, pb::ListReplicasRequest {}))
            .await
            .map(|_| none()),
        Call::GetDefinition => {
            let request = pb::GetDefinitionRequest {
                name: "place-order".into(),
                version: 0,
            };
            client
                .get_definition(with(token, request))
                .await
                .map(|_| none())
        }
        Call::ListDefinitions => client
            .list_definitions(with(token, pb::ListDefinitionsRequest {}))
            .await
            .map(|_| none()),
        Call::RetrySaga => {
            let request = pb::RetrySagaRequest {
                saga_id: id,
                reason,
                request_id,
            };
            client
                .retry_saga(with(token, request))
                .await
                .map(|r| r.into_inner())
        }
        Call::AbortSaga => {
            let request = pb::AbortSagaRequest {
                saga_id: id,
                reason,
                request_id,
            };
            client
                .abort_saga(with(token, request))
                .await
                .map(|r| r.into_inner())
        }
        Call::ResolveSaga => {
            let request = pb::ResolveSagaRequest {
                saga_id: id,
                reason,
                request_id,
            };
            client
                .resolve_saga(with(token, request))
                .await
                .map(|r| r.into_inner())
        }
        Call::SkipStep => {
            let request = pb::SkipStepRequest {
                saga_id: id,
                step: "create_order".into(),
                output_json: "{}".into(),
                reason,
                request_id,
            };
            client
                .skip_step(with(token, request))
                .await
                .map(|r| r.into_inner())
        }
        Call::RegisterDefinition => {
            let request = pb::RegisterDefinitionRequest {
                definition: None,
                validate_only: true,
            };
            client
                .register_definition(with(token, request))
                .await
                .map(|_| none())
        }
    }
}

/// `message` with `authorization: Bearer TOKEN` when a token is given.
fn with<T>(token: Option<&str>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// The web page's API holds callers to the same rules: every read needs a token (with
/// `--auth-read`), every action an operator's.
async fn web_page(web: SocketAddr, saga_id: &str) -> Result<()> {
    let bearer = |token: &str| vec![format!("Authorization: Bearer {token}")];
    let reads = [
        "/api/sagas".to_string(),
        format!("/api/sagas/{saga_id}"),
        "/api/definitions".to_string(),
        "/api/definitions/place-order".to_string(),
    ];
    let streams = [
        format!("/api/sagas/{saga_id}/events"),
        "/api/events".to_string(),
    ];
    for path in reads.iter().chain(&streams) {
        for headers in [Vec::new(), bearer(UNKNOWN)] {
            let answer = send(web, "GET", path, &headers, None).await?;
            ensure!(
                answer.status == 401,
                "GET {path} with {headers:?}: {answer:?}"
            );
        }
    }
    for path in &reads {
        let answer = send(web, "GET", path, &bearer(READER), None).await?;
        ensure!(
            answer.status == 200,
            "GET {path} with a reader's token: {answer:?}"
        );
    }
    let body = r#"{"reason": "checking tokens", "request_id": "web"}"#;
    let skip = r#"{"step": "create_order", "output_json": "{}", "reason": "checking tokens", "request_id": "web"}"#;
    for (action, body) in [
        ("retry", body),
        ("abort", body),
        ("resolve", body),
        ("skip", skip),
    ] {
        let path = format!("/api/sagas/{saga_id}/{action}");
        let expected = [
            (Vec::new(), 401),
            (bearer(UNKNOWN), 401),
            (bearer(READER), 403),
        ];
        for (headers, code) in expected {
            let answer = send(web, "POST", &path, &headers, Some(body)).await?;
            ensure!(
                answer.status == code,
                "POST {path} with {headers:?}: {answer:?}"
            );
        }
        // Past the check, the saga (RESOLVED) refuses every action.
        let answer = send(web, "POST", &path, &bearer(OPERATOR), Some(body)).await?;
        ensure!(
            answer.status == 409,
            "POST {path} as an operator: {answer:?}"
        );
    }
    Ok(())
}

/// A new token file is in force after SIGHUP: the new token works, the old one no longer.
async fn rotation(cluster: &Cluster, file: &std::path::Path) -> Result<()> {
    let rotated = TOKENS.replace(READER, "reader-token-rotated");
    std::fs::write(file, rotated)?;
    cluster.signal_orchestrator(Signal::SIGHUP)?;
    let client = cluster.orchestrator();
    eventually(
        Duration::from_secs(30),
        "the new token file in force",
        || {
            let client = client.clone();
            async move {
                let old = code_of(make(&client, Call::ListSagas, Some(READER), "").await);
                let new =
                    code_of(make(&client, Call::ListSagas, Some("reader-token-rotated"), "").await);
                Ok(match (old, new) {
                    (Some(Code::Unauthenticated), None) => Check::Done(()),
                    seen => Check::NotYet(format!("{seen:?}")),
                })
            }
        },
    )
    .await
}
