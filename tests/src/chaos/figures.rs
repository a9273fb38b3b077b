//! The campaign's figures drawn from what the services hold and what the runner saw.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use saga_contracts::orders::v1::{Order, OrderEvent, OrderStatus};
use saga_contracts::saga::v1::{Saga, SagaStatus, StepOutcome};

use super::load::Load;
use super::ownership::{OwnershipFigures, ownership};
use super::report::{
    DirectFigures, FaultFigures, LoggedErrors, SagaFigures, errors_in_log, fired_in_log,
};
use super::stage::Stage;
use crate::invariants::Snapshot;
use crate::invariants::direct::INVOICE_ORDER;
use crate::invariants::log::RESUMED;
use crate::invariants::reservations::HELD;
use crate::pattern::Pattern;

/// How the sagas ended and what their logs hold, with the clients' counts.
pub fn saga_figures(
    snapshot: &Snapshot,
    load: &Load,
    reservations: &BTreeMap<String, String>,
) -> SagaFigures {
    let figures = load.figures();
    let counts = snapshot.counts();
    let with = |status| {
        snapshot
            .sagas
            .iter()
            .filter(|s| s.status() == status)
            .count()
    };
    SagaFigures {
        placed: figures.sent,
        accepted: figures.answered,
        over_limit: figures.over_limit,
        refused: figures.refused,
        reservations_held: reservations.values().filter(|s| *s == HELD).count(),
        reservations_released: reservations.values().filter(|s| *s != HELD).count(),
        listed: snapshot.sagas.len(),
        completed: counts.sagas_completed,
        compensated: counts.sagas_compensated,
        failed: with(SagaStatus::Failed),
        unfinished: with(SagaStatus::Running) + with(SagaStatus::Compensating),
        orders: snapshot.orders.len(),
        invoices_issued: counts.invoices_issued,
        invoices_voided: counts.invoices_voided,
        retries: records(&snapshot.sagas, |e| {
            e.outcome() == StepOutcome::RetryScheduled
        }),
        resumed_attempts: records(&snapshot.sagas, |e| {
            e.outcome() == StepOutcome::Started && e.detail == RESUMED
        }),
        parked_retries: records(&snapshot.sagas, |e| {
            e.outcome() == StepOutcome::RetryScheduled && e.detail.starts_with("parked")
        }),
        claims: records(&snapshot.sagas, |e| e.outcome() == StepOutcome::Claimed),
        handovers: snapshot.sagas.iter().map(handovers).sum(),
    }
}

/// What an orchestrator logs when it takes the feed (the event stream's or the sweep's).
const FEED_TAKEN: &str = "took the feed";

/// The orders placed directly, their events and sagas, and the broker's incidents.
pub fn direct_figures(
    pattern: Pattern,
    snapshot: &Snapshot,
    events: &[OrderEvent],
    stage: &Stage,
    dir: &Path,
) -> DirectFigures {
    let direct: Vec<&Order> = snapshot
        .orders
        .iter()
        .filter(|o| o.saga_id.is_empty())
        .collect();
    let confirmed = |o: &&&Order| o.status() == OrderStatus::Confirmed;
    let mut by_type = BTreeMap::new();
    for event in events {
        *by_type.entry(event.r#type.clone()).or_default() += 1;
    }
    DirectFigures {
        pattern: pattern.name().to_string(),
        orders: direct.len(),
        confirmed: direct.iter().filter(confirmed).count(),
        cancelled: direct
            .iter()
            .filter(|o| o.status() == OrderStatus::Cancelled)
            .count(),
        confirmed_updated: direct
            .iter()
            .filter(confirmed)
            .filter(|o| o.version > 1)
            .count(),
        events: by_type,
        sagas: snapshot
            .sagas
            .iter()
            .filter(|s| s.definition == INVOICE_ORDER)
            .count(),
        broker: stage.broker_figures(),
        feed_takes: stage
            .orchestrators()
            .map(|node| {
                let name = node.id().name();
                let taken = read_log(dir, &name).matches(FEED_TAKEN).count();
                (name, taken)
            })
            .collect(),
    }
}

/// CLAIMED records of `saga` by another replica than the writer of the record before.
fn handovers(saga: &Saga) -> usize {
    let mut log: Vec<_> = saga.log.iter().collect();
    log.sort_by_key(|e| e.seq);
    log.windows(2)
        .filter(|pair| {
            pair[1].outcome() == StepOutcome::Claimed && pair[1].writer != pair[0].writer
        })
        .count()
}

/// How many log records of all sagas match.
fn records(
    sagas: &[Saga],
    wanted: impl Fn(&saga_contracts::saga::v1::SagaLogEntry) -> bool,
) -> usize {
    sagas
        .iter()
        .flat_map(|s| &s.log)
        .filter(|e| wanted(e))
        .count()
}

/// Faults drawn and fired per kind (from the nodes and the participants' logs), and
/// the proxies' incidents.
pub fn fault_figures(stage: &Stage, dir: &Path) -> FaultFigures {
    let mut spec_rules = BTreeMap::new();
    let mut fired = BTreeMap::new();
    for node in stage.nodes.values() {
        let figures = node.figures();
        for (kind, n) in &figures.fault_rules {
            *spec_rules.entry(kind.to_string()).or_default() += n;
        }
        if figures.crashes > 0 {
            *fired.entry("crash".to_string()).or_default() += figures.crashes;
        }
        let text = read_log(dir, &node.id().name());
        for (kind, n) in fired_in_log(&text) {
            if kind != "crash" {
                *fired.entry(kind).or_default() += n;
            }
        }
    }
    FaultFigures {
        spec_rules,
        fired,
        proxies: stage
            .proxy_figures()
            .into_iter()
            .map(|(link, figures)| (format!("{link:?}").to_lowercase(), figures))
            .collect(),
    }
}

/// The ERROR lines of each service's log.
pub fn error_figures(stage: &Stage, dir: &Path) -> BTreeMap<String, LoggedErrors> {
    stage
        .nodes
        .values()
        .map(|node| {
            let name = node.id().name();
            let text = read_log(dir, &name);
            (name, errors_in_log(&text, 3))
        })
        .collect()
}

/// Which orchestrator drove which saga, from their logs.
pub fn ownership_figures(stage: &Stage, dir: &Path) -> OwnershipFigures {
    let logs: Vec<(String, String)> = stage
        .orchestrators()
        .map(|node| {
            let name = node.id().name();
            let text = read_log(dir, &name);
            (name, text)
        })
        .collect();
    ownership(&logs)
}

/// A node's log (empty if it cannot be read: the figures then say nothing of it).
fn read_log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

/// The newest `updated_at` of any saga, in Unix milliseconds.
pub fn last_saga_end_ms(sagas: &[Saga]) -> i64 {
    sagas
        .iter()
        .filter_map(|s| s.updated_at.as_ref())
        .map(|t| t.seconds * 1_000 + i64::from(t.nanos / 1_000_000))
        .max()
        .unwrap_or_default()
}

/// `time` in Unix milliseconds (0 before the epoch).
pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use saga_contracts::saga::v1::SagaLogEntry;

    use super::*;

    #[test]
    fn a_handover_is_a_claim_by_another_writer_than_the_records_before() {
        let record = |seq, outcome: StepOutcome, writer: &str| SagaLogEntry {
            seq,
            outcome: outcome.into(),
            writer: writer.into(),
            ..Default::default()
        };
        let saga = Saga {
            log: vec![
                record(4, StepOutcome::Claimed, "b"),
                record(1, StepOutcome::Started, "a"),
                record(2, StepOutcome::Claimed, "a"),
                record(3, StepOutcome::Started, "a"),
                record(5, StepOutcome::Started, "b"),
            ],
            ..Default::default()
        };
        assert_eq!(
            handovers(&saga),
            1,
            "a's own claim at its start is no handover"
        );
    }
}
