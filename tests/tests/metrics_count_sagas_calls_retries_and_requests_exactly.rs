//! After a known workload, each service's `/metrics` counts exactly what happened, as the
//! saga logs tell it: sagas started and ended by status, calls by outcome, retries of
//! UNAVAILABLE after a fault spec that injects them, and the participants' requests by
//! method and code and the faults they injected; and no saga is left in flight.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use saga_contracts::saga::v1::{GetSagaRequest, Saga, SagaStatus, StepOutcome};
use saga_tests::binaries::Binary;
use saga_tests::http::{get, sample_of};
use saga_tests::listing::all_sagas;
use saga_tests::poll::{Check, eventually};
use saga_tests::requests::{large_order, small_order};
use saga_tests::{Cluster, ClusterOptions};

const COMPLETED: usize = 6;
const COMPENSATED: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_sagas_calls_retries_and_requests_exactly() -> Result<()> {
    let cluster = Cluster::start(
        ClusterOptions::default()
            .metrics()
            .invoices_faults("CreateInvoice:unavailable:0.4")
            .max_attempts(1_000),
    )
    .await?;
    let client = cluster.orchestrator();
    let orders = (0..COMPLETED)
        .map(small_order)
        .chain((0..COMPENSATED).map(large_order));
    for order in orders {
        client.clone().place_order(order).await?;
    }
    let mut sagas = Vec::new();
    for listed in all_sagas(&client, SagaStatus::Unspecified).await? {
        let request = GetSagaRequest {
            saga_id: listed.saga_id,
        };
        sagas.push(client.clone().get_saga(request).await?.into_inner());
    }
    let ended = |status| sagas.iter().filter(|s| s.status() == status).count();
    ensure!(
        (ended(SagaStatus::Completed), ended(SagaStatus::Compensated)) == (COMPLETED, COMPENSATED),
        "{sagas:?}"
    );
    let retries = records(
        &sagas,
        "create_invoice",
        StepOutcome::RetryScheduled,
        "Unavailable",
    );
    ensure!(
        retries > 0,
        "the faults injected no UNAVAILABLE: pick another probability"
    );
    let voided = records(&sagas, "void_invoice", StepOutcome::Succeeded, "");

    let orchestrator = scrape(cluster.orchestrator_http_addr()).await?;
    let def = ("definition", "place-order");
    let expect = [
        (
            "saga_sagas_started_total",
            vec![def],
            COMPLETED + COMPENSATED,
        ),
        (
            "saga_sagas_ended_total",
            vec![def, ("status", "completed")],
            COMPLETED,
        ),
        (
            "saga_sagas_ended_total",
            vec![def, ("status", "compensated")],
            COMPENSATED,
        ),
        (
            "saga_saga_duration_seconds_count",
            vec![def, ("status", "completed")],
            COMPLETED,
        ),
        (
            "saga_step_retries_total",
            vec![def, ("step", "create_invoice"), ("code", "UNAVAILABLE")],
            retries,
        ),
        (
            "saga_step_call_duration_seconds_count",
            vec![
                def,
                ("step", "create_invoice"),
                ("operation", "action"),
                ("outcome", "transient"),
            ],
            retries,
        ),
        (
            "saga_step_call_duration_seconds_count",
            vec![
                def,
                ("step", "create_invoice"),
                ("operation", "action"),
                ("outcome", "refused"),
            ],
            COMPENSATED,
        ),
        (
            "saga_step_call_duration_seconds_count",
            vec![
                def,
                ("step", "confirm_order"),
                ("operation", "action"),
                ("outcome", "succeeded"),
            ],
            COMPLETED,
        ),
    ];
    for (name, labels, count) in expect {
        let value = sample_of(&orchestrator, name, &labels);
        ensure!(
            value == Some(count as f64),
            "{name}{labels:?}: {value:?}, expected {count}"
        );
    }

    let invoices = scrape(cluster.participant_http_addr(Binary::InvoicesSvc)).await?;
    let create = ("method", "CreateInvoice");
    let expect = [
        (
            "participant_faults_injected_total",
            vec![create, ("kind", "unavailable")],
            retries,
        ),
        (
            "participant_requests_total",
            vec![create, ("code", "UNAVAILABLE")],
            retries,
        ),
        (
            "participant_requests_total",
            vec![create, ("code", "OK")],
            COMPLETED,
        ),
        (
            "participant_requests_total",
            vec![create, ("code", "FAILED_PRECONDITION")],
            COMPENSATED,
        ),
        (
            "participant_requests_total",
            vec![("method", "VoidInvoice"), ("code", "OK")],
            voided,
        ),
    ];
    for (name, labels, count) in expect {
        let value = sample_of(&invoices, name, &labels).unwrap_or(0.0);
        ensure!(
            value == count as f64,
            "invoices-svc {name}{labels:?}: {value}, expected {count}"
        );
    }
    let orders = scrape(cluster.participant_http_addr(Binary::OrdersSvc)).await?;
    let expect = [
        ("CreateOrder", COMPLETED + COMPENSATED),
        ("ConfirmOrder", COMPLETED),
        ("CancelOrder", COMPENSATED),
    ];
    for (method, count) in expect {
        let labels = [("method", method), ("code", "OK")];
        let value = sample_of(&orders, "participant_requests_total", &labels);
        ensure!(
            value == Some(count as f64),
            "orders-svc {method}: {value:?}, expected {count}"
        );
    }
    for (service, page) in [("orders-svc", &orders), ("orchestrator", &orchestrator)] {
        let commits = sample_of(page, "db_commit_batch_size_count", &[]).unwrap_or(0.0);
        ensure!(commits > 0.0, "{service} counted no commits");
    }

    let addr = cluster.orchestrator_http_addr();
    eventually(
        Duration::from_secs(30),
        "no saga in flight",
        || async move {
            let page = scrape(addr).await?;
            Ok(match sample_of(&page, "saga_sagas_in_flight", &[]) {
                Some(0.0) => Check::Done(()),
                seen => Check::NotYet(format!("{seen:?}")),
            })
        },
    )
    .await
}

/// The metrics page at `addr`.
async fn scrape(addr: Option<SocketAddr>) -> Result<String> {
    get(addr.context("no HTTP listener")?, "/metrics").await
}

/// How many records of `step` with `outcome` (and a detail starting with `detail`) the
/// sagas' logs hold.
fn records(sagas: &[Saga], step: &str, outcome: StepOutcome, detail: &str) -> usize {
    sagas
        .iter()
        .flat_map(|s| &s.log)
        .filter(|e| e.step == step && e.outcome() == outcome && e.detail.starts_with(detail))
        .count()
}
