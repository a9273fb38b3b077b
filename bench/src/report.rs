//! The final report: what each phase achieved and cost, the ratio saga/direct, the saga
//! log's cost and the invariant check (printed as JSON, or as a table by `table`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Backend, Bound, Flow, Pace, SqliteSync};
use crate::cpu::Usage;
use crate::latency::Latency;
use crate::load::Tally;
use crate::log_cost::{LogCost, per};
use crate::outcome::Outcomes;
use crate::verify::Verdict;

/// Everything a run measured and found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    /// `started` (by the benchmark, on a fresh folder) or `running` (`--url`).
    pub stack: &'static str,
    pub backend: Backend,
    /// The saga run.
    pub definition: Flow,
    /// SQLite's `synchronous` in a stack started here on SQLite.
    pub sqlite_sync: Option<SqliteSync>,
    /// Orchestrator processes the calls were spread over.
    pub replicas: usize,
    pub pace: Pace,
    pub bound: Bound,
    pub compensate_share: f64,
    pub faults: String,
    pub connections: u32,
    /// Through the orchestrator.
    pub saga: Phase,
    pub saga_log: LogCost,
    /// Direct calls to the participants, when measured.
    pub floor: Option<Phase>,
    pub saga_over_direct: Option<Ratio>,
    pub invariants: Verdict,
    /// The invariants held and at least one saga ended.
    pub passed: bool,
}

/// One phase of load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    /// Calls made (sagas placed, or direct sequences run).
    pub calls: u64,
    /// Of those, the ones whose saga ended (completed, compensated or failed).
    pub ended: u64,
    pub elapsed_s: f64,
    /// Ended sagas per second of the phase.
    pub sagas_per_s: f64,
    /// Of the answered calls.
    pub latency: Latency,
    /// Of the failed calls (refusals under overload, among others).
    pub error_latency: Latency,
    pub outcomes: Outcomes,
    /// CPU seconds per ended saga, by process (only the processes started here, and
    /// this one).
    pub cpu_s_per_saga: BTreeMap<String, f64>,
    /// Bytes sent to storage per ended saga, by process.
    pub disk_write_bytes_per_saga: BTreeMap<String, f64>,
    /// Peak resident memory by process, MiB, since the process started.
    pub peak_rss_mib: BTreeMap<String, f64>,
    /// CPUs busy on average over the phase, the whole machine (others' work included).
    pub machine_busy_cpus: Option<f64>,
}

/// Saga figures divided by the floor's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    pub throughput: f64,
    pub p50_latency: f64,
    pub p99_latency: f64,
}

impl Phase {
    /// The phase's figures from its tally, duration and what the processes spent.
    pub fn new(tally: &Tally, elapsed: Duration, usage: &Usage) -> Self {
        let outcomes = tally.outcomes();
        let ended = outcomes.ended();
        let elapsed_s = elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let ended_f = ended as f64;
        let per_saga = |value: f64| if ended > 0 { value / ended_f } else { 0.0 };
        Self {
            calls: outcomes.total(),
            ended,
            elapsed_s,
            sagas_per_s: if elapsed_s > 0.0 {
                ended_f / elapsed_s
            } else {
                0.0
            },
            latency: tally.latency.summary(),
            error_latency: tally.error_latency.summary(),
            cpu_s_per_saga: usage
                .processes
                .iter()
                .map(|(name, spent)| (name.clone(), per_saga(spent.cpu_s)))
                .collect(),
            disk_write_bytes_per_saga: usage
                .processes
                .iter()
                .filter_map(|(name, spent)| {
                    Some((name.clone(), per(spent.disk_write_bytes?, ended)?))
                })
                .collect(),
            peak_rss_mib: usage
                .processes
                .iter()
                .filter_map(|(name, spent)| Some((name.clone(), spent.peak_rss_mib?)))
                .collect(),
            machine_busy_cpus: usage.machine_busy_cpus,
            outcomes,
        }
    }

    /// CPU seconds per saga of all the processes together.
    pub fn cpu_s_per_saga_all(&self) -> f64 {
        self.cpu_s_per_saga.values().sum()
    }
}

impl Ratio {
    /// `saga` over `floor`, where the floor's figures are not zero.
    pub fn of(saga: &Phase, floor: &Phase) -> Self {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        Self {
            throughput: ratio(saga.sagas_per_s, floor.sagas_per_s),
            p50_latency: ratio(saga.latency.p50_ms, floor.latency.p50_ms),
            p99_latency: ratio(saga.latency.p99_ms, floor.latency.p99_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::Spent;
    use crate::outcome::Outcome;

    fn phase(per_second: u64, p50_ms: u64) -> Phase {
        let tally = Tally::new().expect("tally");
        for _ in 0..per_second {
            tally.record(&Outcome::Completed, Duration::from_millis(p50_ms));
        }
        tally.record(&Outcome::Error("Unavailable".into()), Duration::ZERO);
        let usage = Usage {
            processes: BTreeMap::from([(
                "orchestrator".to_string(),
                Spent {
                    cpu_s: 0.5,
                    disk_write_bytes: Some(4_096),
                    peak_rss_mib: Some(12.5),
                },
            )]),
            machine_busy_cpus: Some(1.5),
        };
        Phase::new(&tally, Duration::from_secs(1), &usage)
    }

    #[test]
    fn a_phase_counts_per_ended_saga_and_leaves_errors_out_of_the_latency() {
        let phase = phase(100, 4);
        assert_eq!((phase.calls, phase.ended), (101, 100));
        assert_eq!(phase.sagas_per_s, 100.0);
        assert_eq!(phase.latency.count, 100);
        assert_eq!(
            phase.cpu_s_per_saga,
            BTreeMap::from([("orchestrator".to_string(), 0.005)])
        );
        assert_eq!(
            phase.disk_write_bytes_per_saga,
            BTreeMap::from([("orchestrator".to_string(), 40.96)])
        );
    }

    #[test]
    fn the_ratio_divides_saga_figures_by_the_floors() {
        let ratio = Ratio::of(&phase(50, 8), &phase(100, 2));
        assert_eq!(ratio.throughput, 0.5);
        assert!((ratio.p50_latency - 4.0).abs() < 0.01, "{ratio:?}");
    }
}
