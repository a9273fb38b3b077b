//! The `orchestrator` binary as a process: it announces its address, validates input
//! before writing anything, and exits cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

async fn start(dir: &tempfile::TempDir) -> (Child, String) {
    let db = dir.path().join("orchestrator.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", db.display()))
        // Nothing listens there: the participants are not needed for these checks.
        .args([
            "--orders-url",
            "http://127.0.0.1:9",
            "--invoices-url",
            "http://127.0.0.1:9",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn orchestrator");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("announced in time")
        .expect("read stdout")
        .expect("a line");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, format!("http://{addr}"))
}

fn sigterm(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
}

async fn exits_cleanly(mut child: Child) {
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn sigterm_answers_a_waiting_caller_with_the_running_saga_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, url) = start(&dir).await;
    let mut client = OrchestratorClient::connect(url).await.expect("connect");
    let order = pb::PlaceOrderRequest {
        idempotency_key: "k1".into(),
        customer_id: "c1".into(),
        items: vec![pb::LineItem {
            sku: "s".into(),
            quantity: 1,
            unit_price_cents: 100,
        }],
        currency: "EUR".into(),
        wait_ms: 0,
    };
    let mut placing = client.clone();
    let waiting = tokio::spawn(async move { placing.place_order(order).await });
    for _ in 0..200 {
        let listed = client
            .list_sagas(pb::ListSagasRequest::default())
            .await
            .expect("list")
            .into_inner();
        if !listed.sagas.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sigterm(&child);
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("answered before the drain ends")
        .expect("join")
        .expect("PlaceOrder answered");
    let saga = answer.into_inner().saga.expect("saga");
    assert_eq!(saga.status(), pb::SagaStatus::Running);
    exits_cleanly(child).await;
}

#[tokio::test]
async fn it_refuses_bad_orders_writes_nothing_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, url) = start(&dir).await;
    let mut client = OrchestratorClient::connect(url).await.expect("connect");

    let bad = pb::PlaceOrderRequest {
        idempotency_key: "k".into(),
        customer_id: "c1".into(),
        items: vec![],
        currency: "EUR".into(),
        wait_ms: 0,
    };
    let status = client.place_order(bad).await.expect_err("no items");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("items"),
        "{}",
        status.message()
    );

    let listed = client
        .list_sagas(pb::ListSagasRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed, pb::ListSagasResponse::default());

    let unknown = pb::GetSagaRequest {
        saga_id: "nope".into(),
    };
    let status = client.get_saga(unknown).await.expect_err("unknown saga");
    assert_eq!(status.code(), tonic::Code::NotFound);

    sigterm(&child);
    exits_cleanly(child).await;
}
