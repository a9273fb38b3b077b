//! What the matrix keeps of each run (the figures the table and plot show), and the
//! medians of a cell's runs.

use serde::{Deserialize, Serialize};

use crate::report::Report;

/// One run's figures (latencies in ms, CPU in ms per ended saga).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    pub sagas_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub floor_sagas_per_s: Option<f64>,
    pub floor_p50_ms: Option<f64>,
    pub floor_p99_ms: Option<f64>,
    pub saga_over_direct: Option<f64>,
    /// Every process accounted for: the services, the PostgreSQL server's processes and
    /// the load generator.
    pub cpu_ms_per_saga: f64,
    pub orchestrator_cpu_ms_per_saga: Option<f64>,
    pub postgres_cpu_ms_per_saga: Option<f64>,
    /// CPUs the whole machine kept busy over the saga phase (others' work included).
    pub busy_cpus: Option<f64>,
    /// Calls that failed (not answered), of the saga phase.
    pub errors: u64,
    pub ended: u64,
    /// The invariants held and sagas ended.
    pub passed: bool,
    /// The machine's 1-minute load average when the run ended.
    pub load_1m: Option<f64>,
}

/// Medians of a cell's runs (each figure on its own), and how many runs passed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Medians {
    pub runs: usize,
    pub passed: usize,
    pub sagas_per_s: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub floor_sagas_per_s: Option<f64>,
    pub floor_p50_ms: Option<f64>,
    pub floor_p99_ms: Option<f64>,
    pub saga_over_direct: Option<f64>,
    pub cpu_ms_per_saga: Option<f64>,
    pub orchestrator_cpu_ms_per_saga: Option<f64>,
    pub postgres_cpu_ms_per_saga: Option<f64>,
    pub busy_cpus: Option<f64>,
    pub load_1m: Option<f64>,
    pub errors: u64,
}

const MS: f64 = 1_000.0;

impl RunFigures {
    /// The figures of one report; `load_1m` as read when it ended.
    pub fn of(report: &Report, load_1m: Option<f64>) -> Self {
        let saga = &report.saga;
        let floor = report.floor.as_ref();
        Self {
            sagas_per_s: saga.sagas_per_s,
            p50_ms: saga.latency.p50_ms,
            p99_ms: saga.latency.p99_ms,
            floor_sagas_per_s: floor.map(|f| f.sagas_per_s),
            floor_p50_ms: floor.map(|f| f.latency.p50_ms),
            floor_p99_ms: floor.map(|f| f.latency.p99_ms),
            saga_over_direct: report.saga_over_direct.map(|r| r.throughput),
            cpu_ms_per_saga: saga.cpu_s_per_saga_all() * MS,
            orchestrator_cpu_ms_per_saga: saga.cpu_s_per_saga.get("orchestrator").map(|s| s * MS),
            postgres_cpu_ms_per_saga: saga.cpu_s_per_saga.get("postgres").map(|s| s * MS),
            busy_cpus: saga.machine_busy_cpus,
            errors: saga.outcomes.errors.values().sum(),
            ended: saga.ended,
            passed: report.passed,
            load_1m,
        }
    }
}

impl Medians {
    /// Medians over `runs` (the runs that produced a report; `attempted` counts all).
    pub fn of(runs: &[RunFigures], attempted: usize) -> Self {
        let pick = |f: fn(&RunFigures) -> Option<f64>| median(runs.iter().filter_map(f));
        Self {
            runs: attempted,
            passed: runs.iter().filter(|r| r.passed).count(),
            sagas_per_s: pick(|r| Some(r.sagas_per_s)),
            p50_ms: pick(|r| Some(r.p50_ms)),
            p99_ms: pick(|r| Some(r.p99_ms)),
            floor_sagas_per_s: pick(|r| r.floor_sagas_per_s),
            floor_p50_ms: pick(|r| r.floor_p50_ms),
            floor_p99_ms: pick(|r| r.floor_p99_ms),
            saga_over_direct: pick(|r| r.saga_over_direct),
            cpu_ms_per_saga: pick(|r| Some(r.cpu_ms_per_saga)),
            orchestrator_cpu_ms_per_saga: pick(|r| r.orchestrator_cpu_ms_per_saga),
            postgres_cpu_ms_per_saga: pick(|r| r.postgres_cpu_ms_per_saga),
            busy_cpus: pick(|r| r.busy_cpus),
            load_1m: pick(|r| r.load_1m),
            errors: runs.iter().map(|r| r.errors).sum(),
        }
    }
}

/// The median of finite values (the mean of the middle two for an even count).
pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The machine's 1-minute load average, from /proc/loadavg.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_takes_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), Some(2.5));
        assert_eq!(median([f64::NAN, 5.0].into_iter()), Some(5.0));
        assert_eq!(median(std::iter::empty()), None);
    }

    #[test]
    fn medians_are_taken_figure_by_figure_and_absent_figures_stay_absent() {
        let run = |sagas_per_s: f64, p99_ms: f64, passed: bool| RunFigures {
            sagas_per_s,
            p99_ms,
            passed,
            errors: 1,
            ..RunFigures::default()
        };
        let medians = Medians::of(
            &[
                run(100.0, 9.0, true),
                run(300.0, 3.0, true),
                run(200.0, 5.0, false),
            ],
            4,
        );
        assert_eq!((medians.runs, medians.passed, medians.errors), (4, 2, 3));
        assert_eq!(medians.sagas_per_s, Some(200.0));
        assert_eq!(medians.p99_ms, Some(5.0));
        assert_eq!(medians.floor_sagas_per_s, None);
    }
}
