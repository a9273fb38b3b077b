//! The figures of a campaign, printed for people or as JSON, and the count of faults that
//! fired as the participants' own logs tell it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::load::LoadFigures;
use super::node::NodeFigures;
use super::ownership::OwnershipFigures;
use super::pg_server::ServerRestarts;
use super::stage::{BrokerFigures, ConnectionDrops, DatabaseProxyFigures, ProxyFigures};

mod text;

/// Everything a campaign measured; `violations` empty means it passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seed: u64,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Orchestrator processes (several: replicas on one database).
    pub replicas: u32,
    /// The saga definition the clients started.
    pub definition: String,
    /// The command that replays this campaign.
    pub replay: String,
    /// The folder with the databases and the services' logs.
    pub dir: String,
    /// Whether the folder was kept (always after a violation).
    pub kept_dir: bool,
    pub placing_secs: f64,
    pub total_secs: f64,
    pub sagas: SagaFigures,
    /// With a direct pattern: the orders placed at orders-svc and their events.
    pub direct: Option<DirectFigures>,
    pub load: LoadFigures,
    pub faults: FaultFigures,
    /// Kills, pauses, crashes and starts per process.
    pub processes: BTreeMap<String, NodeFigures>,
    /// Which orchestrator drove which saga: claims, takeovers, fenced writes.
    pub ownership: OwnershipFigures,
    /// Rounds of cutting the services' database connections (PostgreSQL).
    pub connection_drops: ConnectionDrops,
    /// Restarts of the PostgreSQL server itself, and how long it was away.
    pub server_restarts: ServerRestarts,
    /// What the proxy on the PostgreSQL protocol did: in-doubt commits, delayed replies,
    /// cuts in the middle of a transaction (all zero without it).
    pub database_proxy: DatabaseProxyFigures,
    pub liveness: Liveness,
    /// ERROR lines in each service's log (none in a healthy campaign; not violations by
    /// themselves, but where to look first).
    pub service_errors: BTreeMap<String, LoggedErrors>,
    pub violations: Vec<String>,
}

/// The ERROR lines of one service's log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoggedErrors {
    pub count: u64,
    /// A few distinct lines, without their timestamps.
    pub samples: Vec<String>,
}

/// How the sagas ended, as the services list them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SagaFigures {
    /// Keys sent to PlaceOrder.
    pub placed: usize,
    /// Keys answered with a saga.
    pub accepted: usize,
    /// Keys over the invoice limit (they must compensate).
    pub over_limit: usize,
    /// Keys whose reservation is refused (they must compensate; four-step campaigns).
    pub refused: usize,
    /// The inventory's reservations still held, and released (four-step campaigns).
    pub reservations_held: usize,
    pub reservations_released: usize,
    /// Sagas ListSagas shows.
    pub listed: usize,
    pub completed: usize,
    pub compensated: usize,
    pub failed: usize,
    /// Sagas still RUNNING or COMPENSATING at the check.
    pub unfinished: usize,
    pub orders: usize,
    pub invoices_issued: usize,
    pub invoices_voided: usize,
    /// RETRY_SCHEDULED records over all logs.
    pub retries: usize,
    /// Attempts re-issued after an orchestrator restart ("resumed after restart").
    pub resumed_attempts: usize,
    /// Retries of parked steps.
    pub parked_retries: usize,
    /// CLAIMED records over all logs: a replica took an unfinished saga (its own at its
    /// start, or another's whose lease expired).
    pub claims: usize,
    /// Of those, claims by another replica than the one that wrote the record before:
    /// handovers, as the saga logs record them.
    pub handovers: usize,
}

/// How the orders placed directly ended, their events, and the broker's incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectFigures {
    /// The pattern's name (`events`, `events-nats`, `sync`).
    pub pattern: String,
    /// Orders placed at orders-svc...
    pub orders: usize,
    /// ...of which CONFIRMED, and CANCELLED.
    pub confirmed: usize,
    pub cancelled: usize,
    /// Of them, at a version past the first (updated before they were invoiced).
    pub confirmed_updated: usize,
    /// The outbox's events by type, as `WatchOrderEvents` streams them.
    pub events: BTreeMap<String, usize>,
    /// invoice-order sagas started for them.
    pub sagas: usize,
    /// What the schedule did to the NATS server (`events-nats`).
    pub broker: Option<BrokerFigures>,
    /// How many times each orchestrator took the feed (the sweep's, or the outbox
    /// stream's): at its start, or over from another replica.
    pub feed_takes: BTreeMap<String, usize>,
}

/// Faults by kind: as configured, as fired, and the proxies' incidents.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultFigures {
    /// Rules of each kind over every participant generation's `--faults`.
    pub spec_rules: BTreeMap<String, u64>,
    /// Faults that fired: `unavailable` and `ambiguous` from the participants' logs,
    /// `crash` from their exits (a `delay` is not logged).
    pub fired: BTreeMap<String, u64>,
    pub proxies: BTreeMap<String, ProxyFigures>,
}

/// Whether the system came back, and how it behaved while a participant was down.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Liveness {
    /// The participant taken down for the liveness window.
    pub outage_of: String,
    pub outage_secs: f64,
    /// Orchestrator CPU seconds during the outage.
    pub orchestrator_cpu_secs: f64,
    /// The same per second of outage.
    pub orchestrator_cpu_per_sec: f64,
    /// Above this CPU per second the orchestrator is taken to spin.
    pub busy_loop_threshold: f64,
    /// From the last fault to the last saga's last update.
    pub last_fault_to_last_saga_ms: i64,
    /// From the last fault until every saga was seen ended.
    pub quiesce_secs: f64,
    /// Whether every saga ended within the quiesce timeout.
    pub quiesced: bool,
    /// The liveness rule's bound: every saga must have ended this long after the last
    /// fault ([`crate::chaos::OrchestratorTuning::liveness_bound`]).
    pub liveness_bound_secs: f64,
    /// Sagas still unfinished past that bound (each a violation).
    pub unfinished_past_bound: Vec<String>,
    /// The longest time while placing in which no PlaceOrder was answered.
    pub longest_stall_secs: f64,
    /// Above this the orchestrator is taken to have stopped serving.
    pub stall_limit_secs: f64,
}

impl Report {
    /// No violation at all.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// For the campaign tests: panics unless the campaign passed, every key placed was
    /// accepted and listed once, and at least `min_placed` were placed (a busy machine
    /// places fewer within the duration).
    pub fn assert_clean(&self, min_placed: usize) {
        assert_eq!(
            self.violations,
            Vec::<String>::new(),
            "replay: {}",
            self.replay
        );
        let s = &self.sagas;
        let listed = match &self.direct {
            Some(direct) => direct.orders,
            None => s.listed,
        };
        assert_eq!(
            (s.accepted, listed),
            (s.placed, s.placed),
            "every key placed was accepted and listed once"
        );
        assert!(
            s.placed >= min_placed,
            "only {} sagas were placed",
            s.placed
        );
    }

    /// Every SIGKILL of the schedule over all processes.
    pub fn kills(&self) -> u64 {
        self.processes.values().map(|p| p.kills).sum()
    }

    /// Every SIGTERM restart of the schedule over all processes.
    pub fn graceful_stops(&self) -> u64 {
        self.processes.values().map(|p| p.terms).sum()
    }

    /// Every SIGSTOP pause of the schedule over all processes.
    pub fn pauses(&self) -> u64 {
        self.processes.values().map(|p| p.pauses).sum()
    }

    /// The figures of the orchestrator processes (one, or every replica).
    pub fn orchestrators(&self) -> impl Iterator<Item = &NodeFigures> {
        self.processes
            .iter()
            .filter(|(name, _)| name.starts_with("orchestrator"))
            .map(|(_, figures)| figures)
    }

    /// Faults that fired in the participants plus proxy incidents (the database
    /// proxy's in-doubt commits, delay windows and cuts among them).
    pub fn faults_injected(&self) -> u64 {
        let proxies: u64 = self
            .faults
            .proxies
            .values()
            .map(|p| p.latency_windows + p.blackhole_windows + p.reset_events)
            .sum();
        let d = &self.database_proxy;
        let database = d.counts.in_doubt_commits + d.delay_windows + d.counts.mid_transaction_cuts;
        self.faults.fired.values().sum::<u64>() + proxies + database
    }
}

/// Counts `injected fault: KIND` lines in a service log.
pub fn fired_in_log(log: &str) -> BTreeMap<String, u64> {
    const MARK: &str = "injected fault: ";
    let mut fired = BTreeMap::new();
    for line in log.lines() {
        let Some(at) = line.find(MARK) else {
            continue;
        };
        let kind: String = line[at + MARK.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if !kind.is_empty() {
            *fired.entry(kind).or_default() += 1;
        }
    }
    fired
}

/// The ERROR lines of a service log: how many, and up to `samples` distinct ones.
pub fn errors_in_log(log: &str, samples: usize) -> LoggedErrors {
    let mut found = LoggedErrors::default();
    for line in log.lines().filter(|l| l.contains(" ERROR ")) {
        found.count += 1;
        let text = line.split_once(' ').map_or(line, |(_, rest)| rest).trim();
        let text: String = text.chars().take(300).collect();
        if found.samples.len() < samples && !found.samples.contains(&text) {
            found.samples.push(text);
        }
    }
    found
}

/// Asserts that every kind of chaos in `happened` (what, how many times) happened at
/// least once, naming the ones that did not.
pub fn assert_all_happened(happened: &[(&str, u64)]) {
    let missing: Vec<&str> = happened
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(what, _)| *what)
        .collect();
    assert_eq!(
        missing,
        Vec::<&str>::new(),
        "the chaos happened: {happened:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_error_lines_without_timestamps() {
        let log = "\
2026-01-01T00:00:00Z ERROR orchestrator::api::error: saga log unavailable
2026-01-01T00:00:01Z  INFO fine
2026-01-01T00:00:02Z ERROR orchestrator::api::error: saga log unavailable
2026-01-01T00:00:03Z ERROR other: boom";
        assert_eq!(
            errors_in_log(log, 5),
            LoggedErrors {
                count: 3,
                samples: vec![
                    "ERROR orchestrator::api::error: saga log unavailable".to_string(),
                    "ERROR other: boom".to_string(),
                ],
            }
        );
    }

    #[test]
    fn counts_injected_faults_by_kind() {
        let log = "\
2026-01-01T00:00:00Z  WARN service_kit::faults: injected fault: unavailable method=\"CreateOrder\"
2026-01-01T00:00:00Z  INFO orders_svc: order created
2026-01-01T00:00:01Z  WARN service_kit::faults: injected fault: ambiguous method=\"CreateOrder\" ok=true
2026-01-01T00:00:02Z  WARN service_kit::faults: injected fault: unavailable method=\"CancelOrder\"";
        let fired: Vec<(String, u64)> = fired_in_log(log).into_iter().collect();
        assert_eq!(
            fired,
            vec![("ambiguous".to_string(), 1), ("unavailable".to_string(), 2)]
        );
    }
}
