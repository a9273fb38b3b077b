//! `WatchSaga` streams a saga's log records as they commit, and ends after the record that
//! ends the saga. A watcher that drops its stream, or loses it because the orchestrator
//! was killed, and watches again from the last seq it saw, sees every record exactly
//! once; a watcher on one replica follows a saga another replica drives; an ended saga's
//! watch sends its whole log and ends; an unknown saga is NOT_FOUND and an empty id
//! INVALID_ARGUMENT. `WatchSagas` sends every record of every saga started after it, once.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{
    GetSagaRequest, SagaLogEntry, SagaStatus, WatchSagaRequest, WatchSagasRequest,
};
use saga_tests::cluster::is_terminal;
use saga_tests::requests::{item, order};
use saga_tests::{Backend, Cluster, ClusterOptions, on_every_backend};
use tonic::Code;
use tonic::transport::Channel;

/// Every call waits this long: a saga stays in flight for a few hundred milliseconds.
const SLOW_CALLS_MS: u64 = 200;
/// Longest wait for one record.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_every_record_once_through_a_reconnect_and_a_killed_orchestrator()
-> Result<()> {
    on_every_backend(reconnects).await
}

async fn reconnects(backend: Backend) -> Result<()> {
    let mut cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .slow_calls(SLOW_CALLS_MS),
    )
    .await?;
    let saga_id = placed(&cluster.orchestrator(), "watch-1").await?;

    // A watcher that drops its stream after two records and watches again.
    let mut seen = watch(&cluster.orchestrator(), &saga_id, 0, Some(2)).await?;
    ensure!(seqs(&seen) == [1, 2], "{:?}", seqs(&seen));
    // Then loses it with the orchestrator, and watches the restarted one.
    let from = last_seq(&seen);
    let mut stream = open(&cluster.orchestrator(), &saga_id, from).await?;
    let next = next_record(&mut stream)
        .await?
        .context("the stream ended early")?;
    seen.push(next);
    cluster.kill_orchestrator().await?;
    let rest = drain(&mut stream).await;
    ensure!(
        rest.is_err(),
        "the stream of a killed orchestrator ended cleanly"
    );
    cluster.restart_orchestrator().await?;
    seen.extend(watch(&cluster.orchestrator(), &saga_id, last_seq(&seen), None).await?);

    let full = log_of(&cluster.orchestrator(), &saga_id).await?;
    ensure!(
        seqs(&seen) == seqs(&full),
        "watched {:?}, the log holds {:?}",
        seqs(&seen),
        seqs(&full)
    );
    ensure!(
        ends_the_saga(&seen),
        "the last record watched does not end the saga"
    );
    // The saga shows each step's calls, read back from the same log.
    let saga = cluster
        .orchestrator()
        .get_saga(GetSagaRequest {
            saga_id: saga_id.clone(),
        })
        .await?
        .into_inner();
    for step in &saga.steps {
        let last = step.calls.last().map(|c| c.outcome.as_str());
        ensure!(last == Some("succeeded"), "{}: {:?}", step.name, step.calls);
        ensure!(
            step.calls
                .iter()
                .all(|c| c.started_at.is_some() && c.ended_at.is_some())
        );
    }

    // An ended saga's watch sends its whole log and ends.
    let again = watch(&cluster.orchestrator(), &saga_id, 0, None).await?;
    ensure!(seqs(&again) == seqs(&full));

    let mut client = cluster.orchestrator();
    let unknown = client
        .watch_saga(WatchSagaRequest {
            saga_id: "no-such-saga".into(),
            from_seq: 0,
        })
        .await;
    ensure!(
        matches!(&unknown, Err(s) if s.code() == Code::NotFound),
        "{unknown:?}"
    );
    let empty = client.watch_saga(WatchSagaRequest::default()).await;
    ensure!(
        matches!(&empty, Err(s) if s.code() == Code::InvalidArgument && s.message().contains("saga_id")),
        "{empty:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_one_replica_follows_a_saga_another_replica_drives() -> Result<()> {
    let Some(backend) = Backend::postgres_from_env() else {
        eprintln!("SKIPPED: two replicas share a saga log on PostgreSQL only");
        return Ok(());
    };
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .slow_calls(SLOW_CALLS_MS),
    )
    .await?;
    let other = cluster.another_orchestrator("e2e-watcher").await?;
    let watcher = OrchestratorClient::new(Channel::from_shared(other.url())?.connect_lazy());
    let saga_id = placed(&cluster.orchestrator(), "watch-2").await?;
    let seen = watch(&watcher, &saga_id, 0, None).await?;
    let full = log_of(&cluster.orchestrator(), &saga_id).await?;
    ensure!(
        seqs(&seen) == seqs(&full),
        "watched {:?} on the other replica, the log holds {:?}",
        seqs(&seen),
        seqs(&full)
    );
    ensure!(ends_the_saga(&seen));
    ensure!(
        full.iter().all(|e| e.writer != "e2e-watcher"),
        "the watching replica wrote to the saga"
    );
    Ok(())
}

/// Places an order without waiting for its saga; answers the saga's id.
async fn placed(client: &OrchestratorClient<Channel>, key: &str) -> Result<String> {
    let mut request = order(key, "customer-watch", vec![item("sku-lamp", 2, 1_500)]);
    request.wait_ms = 1;
    let answer = client.clone().place_order(request).await?.into_inner();
    let saga = answer.saga.context("PlaceOrder answered no saga")?;
    ensure!(
        !is_terminal(saga.status()),
        "the saga ended before it was watched"
    );
    Ok(saga.saga_id)
}

type Records = tonic::Streaming<SagaLogEntry>;

async fn open(
    client: &OrchestratorClient<Channel>,
    saga_id: &str,
    from_seq: u32,
) -> Result<Records> {
    let request = WatchSagaRequest {
        saga_id: saga_id.to_string(),
        from_seq,
    };
    Ok(client.clone().watch_saga(request).await?.into_inner())
}

/// The records after `from_seq` until the stream ends (or `limit` of them).
async fn watch(
    client: &OrchestratorClient<Channel>,
    saga_id: &str,
    from_seq: u32,
    limit: Option<usize>,
) -> Result<Vec<SagaLogEntry>> {
    let mut stream = open(client, saga_id, from_seq).await?;
    let mut records = Vec::new();
    while limit.is_none_or(|n| records.len() < n) {
        match next_record(&mut stream).await? {
            Some(record) => records.push(record),
            None => break,
        }
    }
    Ok(records)
}

async fn next_record(stream: &mut Records) -> Result<Option<SagaLogEntry>> {
    match tokio::time::timeout(PATIENCE, stream.message()).await {
        Ok(next) => Ok(next?),
        Err(_) => bail!("no record within {PATIENCE:?}"),
    }
}

/// Reads the stream to its end, or its error.
async fn drain(stream: &mut Records) -> Result<Vec<SagaLogEntry>> {
    let mut records = Vec::new();
    while let Some(record) = next_record(stream).await? {
        records.push(record);
    }
    Ok(records)
}

async fn log_of(client: &OrchestratorClient<Channel>, saga_id: &str) -> Result<Vec<SagaLogEntry>> {
    let request = GetSagaRequest {
        saga_id: saga_id.to_string(),
    };
    Ok(client.clone().get_saga(request).await?.into_inner().log)
}

fn seqs(records: &[SagaLogEntry]) -> Vec<u32> {
    records.iter().map(|r| r.seq).collect()
}

fn last_seq(records: &[SagaLogEntry]) -> u32 {
    records.last().map_or(0, |r| r.seq)
}

fn ends_the_saga(records: &[SagaLogEntry]) -> bool {
    records.last().is_some_and(|r| {
        matches!(
            r.status(),
            SagaStatus::Completed | SagaStatus::Compensated | SagaStatus::Failed
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_watch_sees_every_record_of_every_new_saga_once() -> Result<()> {
    on_every_backend(dashboard).await
}

async fn dashboard(backend: Backend) -> Result<()> {
    let cluster = Cluster::start(
        ClusterOptions::default()
            .backend(backend)
            .max_invoice_cents(100_000)
            .slow_calls(50),
    )
    .await?;
    let request = WatchSagasRequest {
        status: SagaStatus::Unspecified.into(),
        definition: "place-order".into(),
    };
    let mut events = cluster
        .orchestrator()
        .watch_sagas(request)
        .await?
        .into_inner();
    let mut ids = Vec::new();
    for (key, price) in [("dash-1", 1_500), ("dash-2", 90_000), ("dash-3", 2_000)] {
        let order = order(key, "customer-dash", vec![item("sku-dash", 2, price)]);
        let saga = cluster
            .orchestrator()
            .place_order(order)
            .await?
            .into_inner();
        ids.push(saga.saga.context("no saga")?.saga_id);
    }
    // Until every saga's last record (the saga's own, ending it) arrived.
    let mut seen: BTreeMap<String, Vec<SagaLogEntry>> = BTreeMap::new();
    let ended = |records: &Vec<SagaLogEntry>| {
        ends_the_saga(records) && records.last().is_some_and(|r| r.step == "saga")
    };
    while ids.iter().any(|id| !seen.get(id).is_some_and(ended)) {
        let event = match tokio::time::timeout(PATIENCE, events.message()).await {
            Ok(next) => next?.context("the dashboard stream ended")?,
            Err(_) => bail!("no event within {PATIENCE:?}; seen {:?}", seen.keys()),
        };
        let saga = event.saga.context("an event without its saga")?;
        ensure!(saga.log.is_empty(), "the event's saga carries its log");
        let entry = event.entry.context("an event without its record")?;
        seen.entry(saga.saga_id).or_default().push(entry);
    }
    for id in &ids {
        let full = log_of(&cluster.orchestrator(), id).await?;
        ensure!(
            seqs(&seen[id]) == seqs(&full),
            "{id}: watched {:?}, the log holds {:?}",
            seqs(&seen[id]),
            seqs(&full)
        );
    }
    ensure!(
        seen.len() == ids.len(),
        "records of other sagas: {:?}",
        seen.keys()
    );
    Ok(())
}
