//! With `--otlp-endpoint`, each saga is one trace: the client's PlaceOrder (its
//! `traceparent` taken from the call's metadata), the orchestrator's span per step call,
//! and the participants' server spans as their children, through every process, also for
//! the steps driven after the orchestrator was killed mid-saga and restarted (the trace
//! context is kept with the saga). An in-process OTLP collector receives them. With
//! `--log-format json` the orchestrator's log lines of a step's call carry its `saga_id`,
//! `step` and `trace_id`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use saga_contracts::saga::v1::PlaceOrderRequest;
use saga_tests::collector::{Collector, Received};
use saga_tests::poll::{Check, eventually};
use saga_tests::requests::small_order;
use saga_tests::{Cluster, ClusterOptions};
use tonic::Request;

const SAGAS: usize = 4;
/// Each participant call waits this long, so that the kill lands mid-saga.
const SLOW_CALLS_MS: u64 = 300;
const SERVICES: [&str; 3] = ["orchestrator", "orders-svc", "invoices-svc"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_saga_spans_all_three_services_across_a_restart() -> Result<()> {
    let (collector, endpoint) = Collector::start().await?;
    let mut cluster = Cluster::start(
        ClusterOptions::default()
            .slow_calls(SLOW_CALLS_MS)
            .otlp(endpoint)
            .orchestrator_arg("--log-format=json"),
    )
    .await?;
    let client = cluster.orchestrator();
    let mut traces = BTreeSet::new();
    for n in 0..SAGAS {
        let trace_id = format!("{:032x}", 0x5a6a_0000_u128 + n as u128);
        let order = PlaceOrderRequest {
            wait_ms: 1,
            ..small_order(n)
        };
        let mut request = Request::new(order);
        let traceparent = format!("00-{trace_id}-{:016x}-01", 0x1000 + n);
        request
            .metadata_mut()
            .insert("traceparent", traceparent.parse()?);
        client.clone().place_order(request).await?;
        traces.insert(trace_id);
    }
    cluster
        .wait_for_a_saga_mid_way(Duration::from_secs(30))
        .await?;
    cluster.kill_orchestrator().await?;
    cluster.restart_orchestrator().await?;
    cluster
        .wait_until_all_terminal(Duration::from_secs(60))
        .await?;
    // Each process sends its last spans as it stops.
    cluster.stop().await?;
    json_logs_name_the_saga_step_and_trace(&cluster, &traces)?;

    let by_trace = eventually(Duration::from_secs(30), "every saga's spans", || {
        let spans = collector.spans();
        let traces = &traces;
        async move {
            let by_trace = saga_spans(&spans);
            let complete = traces.iter().all(|t| {
                by_trace
                    .get(t)
                    .is_some_and(|services| SERVICES.iter().all(|s| services.contains_key(*s)))
            });
            Ok(match complete {
                true => Check::Done(by_trace),
                false => Check::NotYet(format!("{by_trace:?}")),
            })
        }
    })
    .await?;
    let strays: Vec<&String> = by_trace.keys().filter(|t| !traces.contains(*t)).collect();
    ensure!(
        strays.is_empty(),
        "participant calls outside the sagas' traces: {strays:?}"
    );
    for trace in &traces {
        let services = by_trace.get(trace).context("a saga without spans")?;
        let counts: Vec<(&String, usize)> = services.iter().map(|(s, v)| (s, v.len())).collect();
        eprintln!("trace {trace}: spans by service {counts:?}");
        // Every participant's span has a parent: the orchestrator's call, not a new root.
        for service in ["orders-svc", "invoices-svc"] {
            let roots = services[service]
                .iter()
                .filter(|s| s.parent_span_id.is_empty())
                .count();
            ensure!(roots == 0, "{service} started its own trace in {trace}");
        }
    }
    Ok(())
}

/// The spans of the saga calls' traces (those holding a participant's saga call), by
/// trace and by service.
fn saga_spans(spans: &[Received]) -> BTreeMap<String, BTreeMap<String, Vec<Received>>> {
    let saga_calls = [
        "CreateOrder",
        "CreateInvoice",
        "ConfirmOrder",
        "CancelOrder",
        "VoidInvoice",
    ];
    let traces: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.service != "orchestrator" && saga_calls.iter().any(|c| s.name.ends_with(c)))
        .map(|s| s.trace_id.as_str())
        .collect();
    let mut by_trace: BTreeMap<String, BTreeMap<String, Vec<Received>>> = BTreeMap::new();
    for span in spans
        .iter()
        .filter(|s| traces.contains(s.trace_id.as_str()))
    {
        by_trace
            .entry(span.trace_id.clone())
            .or_default()
            .entry(span.service.clone())
            .or_default()
            .push(span.clone());
    }
    by_trace
}

/// Some line of the orchestrator's JSON log, written inside a step's call, names the saga,
/// the step and one of the sagas' traces.
fn json_logs_name_the_saga_step_and_trace(
    cluster: &Cluster,
    traces: &BTreeSet<String>,
) -> Result<()> {
    let log = std::fs::read_to_string(cluster.dir().join("orchestrator.log"))?;
    let named = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .any(|line| {
            let span = &line["span"];
            span["saga_id"].is_string()
                && span["step"].is_string()
                && span["trace_id"]
                    .as_str()
                    .is_some_and(|t| traces.contains(t))
        });
    ensure!(
        named,
        "no JSON log line names a saga, its step and its trace"
    );
    Ok(())
}
