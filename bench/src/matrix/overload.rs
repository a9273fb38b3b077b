//! The matrix's open-loop rows: sagas offered on a fixed schedule at multiples of the
//! closed-loop capacity (the best durable, all-success SQLite cell of the same matrix),
//! to show admission under overload: how many sagas end per second (goodput), how many
//! are refused and how fast, how long the accepted ones take, and the orchestrator's
//! memory.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::figures::median;
use super::{CellResult, MatrixConfig, parse_run};
use crate::config::{Backend, Config, SqliteSync};
use crate::report::Report;

/// One open-loop row: `multiple` × capacity offered, on durable SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverloadResult {
    pub multiple: f64,
    /// Sagas offered per second (`multiple` × capacity).
    pub rate: f64,
    pub medians: OverloadFigures,
    pub runs: Vec<OverloadFigures>,
    /// Runs that could not be carried out, with why.
    pub broken: Vec<String>,
}

/// One open-loop run's figures, or the medians of a row's runs (each figure on its own).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OverloadFigures {
    /// Ended sagas per second.
    pub goodput_per_s: Option<f64>,
    /// Calls refused RESOURCE_EXHAUSTED per second.
    pub refused_per_s: Option<f64>,
    /// Of the accepted sagas, from each call's scheduled start.
    pub accepted_p50_ms: Option<f64>,
    pub accepted_p99_ms: Option<f64>,
    /// Of the refusals (every failed call, of which refusals are all but `other_errors`).
    pub refusal_p99_ms: Option<f64>,
    /// Failed calls other than refusals.
    pub other_errors: u64,
    /// The orchestrator's peak resident memory.
    pub orchestrator_peak_mib: Option<f64>,
    /// Runs whose invariants held (of `runs`); 1 or 0 for one run.
    pub passed: usize,
    pub runs: usize,
}

/// The capacity the rows are multiples of: the highest median throughput of the
/// durable, all-success SQLite cells with one orchestrator.
pub fn capacity(cells: &[CellResult]) -> Option<f64> {
    cells
        .iter()
        .filter(|c| c.cell.backend == Backend::Sqlite && c.cell.durable())
        .filter(|c| c.cell.replicas == 1 && c.cell.compensate == 0.0)
        .filter_map(|c| c.medians.sagas_per_s)
        .max_by(f64::total_cmp)
}

/// The rows `config` asks for at `capacity`.
pub fn rows(config: &MatrixConfig, capacity: f64) -> Vec<OverloadResult> {
    config
        .overload
        .iter()
        .map(|&multiple| OverloadResult {
            multiple,
            rate: (multiple * capacity).max(1.0),
            medians: OverloadFigures::default(),
            runs: Vec::new(),
            broken: Vec::new(),
        })
        .collect()
}

impl super::Row for OverloadResult {
    type Figures = OverloadFigures;

    /// Short name for progress lines.
    fn label(&self) -> String {
        format!("open loop {}× ({:.0}/s)", self.multiple, self.rate)
    }

    /// The flags of this row's `round`th run: open loop at its rate for the matrix's
    /// duration on a fresh durable SQLite stack, no floor.
    fn run_config(&self, matrix: &MatrixConfig, round: u32) -> Result<Config> {
        let args: Vec<String> = [
            ("--backend", Backend::Sqlite.to_string()),
            ("--sqlite-sync", SqliteSync::Full.to_string()),
            ("--rate", format!("{:.0}", self.rate)),
            ("--duration", matrix.duration.to_string()),
            ("--connections", matrix.connections.to_string()),
            ("--seed", (7 + u64::from(round)).to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .chain(["--no-floor".to_string(), "--quiet".to_string()])
        .collect();
        let config = parse_run(&args)?;
        config.validate()?;
        Ok(config)
    }

    fn figures(report: &Report) -> (OverloadFigures, String) {
        let figures = OverloadFigures::of(report);
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2} ms"));
        let line = format!(
            "{:.0} ended/s, {:.0} refused/s (p99 {}), accepted p99 {}",
            figures.goodput_per_s.unwrap_or(0.0),
            figures.refused_per_s.unwrap_or(0.0),
            ms(figures.refusal_p99_ms),
            ms(figures.accepted_p99_ms),
        );
        (figures, line)
    }

    fn record(&mut self, run: Result<OverloadFigures, String>) {
        match run {
            Ok(figures) => self.runs.push(figures),
            Err(why) => self.broken.push(why),
        }
    }
}

impl OverloadFigures {
    /// The figures of one open-loop run.
    pub fn of(report: &Report) -> Self {
        let saga = &report.saga;
        let refused = saga.outcomes.errors.get("ResourceExhausted").copied();
        let errors: u64 = saga.outcomes.errors.values().sum();
        #[allow(clippy::cast_precision_loss)]
        let per_s = |n: u64| (saga.elapsed_s > 0.0).then(|| n as f64 / saga.elapsed_s);
        Self {
            goodput_per_s: Some(saga.sagas_per_s),
            refused_per_s: per_s(refused.unwrap_or(0)),
            accepted_p50_ms: (saga.latency.count > 0).then_some(saga.latency.p50_ms),
            accepted_p99_ms: (saga.latency.count > 0).then_some(saga.latency.p99_ms),
            refusal_p99_ms: (saga.error_latency.count > 0).then_some(saga.error_latency.p99_ms),
            other_errors: errors - refused.unwrap_or(0),
            orchestrator_peak_mib: saga.peak_rss_mib.get("orchestrator").copied(),
            passed: usize::from(report.passed),
            runs: 1,
        }
    }

    /// The medians of `runs` (`attempted` counts the runs that could not be carried out).
    pub fn medians(runs: &[Self], attempted: usize) -> Self {
        let pick = |f: fn(&Self) -> Option<f64>| median(runs.iter().filter_map(f));
        Self {
            goodput_per_s: pick(|r| r.goodput_per_s),
            refused_per_s: pick(|r| r.refused_per_s),
            accepted_p50_ms: pick(|r| r.accepted_p50_ms),
            accepted_p99_ms: pick(|r| r.accepted_p99_ms),
            refusal_p99_ms: pick(|r| r.refusal_p99_ms),
            other_errors: runs.iter().map(|r| r.other_errors).sum(),
            orchestrator_peak_mib: pick(|r| r.orchestrator_peak_mib),
            passed: runs.iter().map(|r| r.passed).sum(),
            runs: attempted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::figures::Medians;
    use crate::matrix::plan::Cell;

    fn cell(backend: Backend, sync: SqliteSync, compensate: f64, sagas_per_s: f64) -> CellResult {
        CellResult {
            cell: Cell {
                backend,
                sqlite_sync: sync,
                replicas: 1,
                concurrency: 64,
                compensate,
            },
            medians: Medians {
                sagas_per_s: Some(sagas_per_s),
                ..Medians::default()
            },
            runs: Vec::new(),
            broken: Vec::new(),
        }
    }

    #[test]
    fn capacity_is_the_best_durable_all_success_sqlite_cell() {
        let cells = [
            cell(Backend::Sqlite, SqliteSync::Full, 0.0, 1_000.0),
            cell(Backend::Sqlite, SqliteSync::Full, 0.0, 1_500.0),
            cell(Backend::Sqlite, SqliteSync::Full, 0.1, 1_900.0),
            cell(Backend::Sqlite, SqliteSync::Normal, 0.0, 2_000.0),
            cell(Backend::Postgres, SqliteSync::Full, 0.0, 2_100.0),
        ];
        assert_eq!(capacity(&cells), Some(1_500.0));
        assert_eq!(capacity(&cells[2..]), None);
    }

    #[test]
    fn medians_keep_absent_figures_absent_and_count_runs() {
        let run = |goodput: f64, refusal: Option<f64>, passed: usize| OverloadFigures {
            goodput_per_s: Some(goodput),
            refusal_p99_ms: refusal,
            other_errors: 1,
            passed,
            runs: 1,
            ..OverloadFigures::default()
        };
        let medians = OverloadFigures::medians(
            &[
                run(900.0, None, 1),
                run(1_000.0, Some(4.0), 1),
                run(1_100.0, Some(6.0), 0),
            ],
            4,
        );
        assert_eq!(medians.goodput_per_s, Some(1_000.0));
        assert_eq!(medians.refusal_p99_ms, Some(5.0));
        assert_eq!(medians.accepted_p99_ms, None);
        assert_eq!(
            (medians.passed, medians.runs, medians.other_errors),
            (2, 4, 3)
        );
    }
}
