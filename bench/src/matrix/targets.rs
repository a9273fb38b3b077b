//! The targets of issue 5 checked against the matrix's medians (durable settings only):
//! throughput at concurrency 64, latency at 1 and 64, saga/direct, and the cost of
//! compensating.

use super::CellResult;
use crate::config::Backend;

/// One target, its figure and whether the figure meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub target: &'static str,
    pub backend: Backend,
    pub figure: String,
    pub met: bool,
}

/// Every target for every backend of the matrix (a target without its cell is left out).
pub fn checks(cells: &[CellResult]) -> Vec<Check> {
    let mut checks = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let single: Vec<&CellResult> = cells
            .iter()
            .filter(|c| c.cell.backend == backend && c.cell.replicas == 1 && c.cell.durable())
            .collect();
        let at = |concurrency: u32, compensate: f64| {
            single
                .iter()
                .find(|c| c.cell.concurrency == concurrency && c.cell.compensate == compensate)
        };
        let mut add = |target, figure: Option<f64>, unit: &str, met: fn(f64) -> bool| {
            if let Some(value) = figure {
                checks.push(Check {
                    target,
                    backend,
                    figure: format!("{value:.2}{unit}"),
                    met: met(value),
                });
            }
        };
        let c64 = at(64, 0.0).map(|c| &c.medians);
        let c1 = at(1, 0.0).map(|c| &c.medians);
        add(
            "≥ 2,000 sagas/s at concurrency 64",
            c64.and_then(|m| m.sagas_per_s),
            " /s",
            |v| v >= 2_000.0,
        );
        add(
            "p50 ≤ 2 ms at concurrency 1",
            c1.and_then(|m| m.p50_ms),
            " ms",
            |v| v <= 2.0,
        );
        add(
            "p99 ≤ 5 ms at concurrency 1",
            c1.and_then(|m| m.p99_ms),
            " ms",
            |v| v <= 5.0,
        );
        add(
            "p99 ≤ 50 ms at concurrency 64",
            c64.and_then(|m| m.p99_ms),
            " ms",
            |v| v <= 50.0,
        );
        add(
            "saga ≥ 50 % of direct at concurrency 64",
            c64.and_then(|m| m.saga_over_direct),
            "",
            |v| v >= 0.5,
        );
        let lowest_ratio = single
            .iter()
            .filter_map(|c| c.medians.saga_over_direct)
            .min_by(f64::total_cmp);
        add(
            "saga ≥ 50 % of direct, lowest cell",
            lowest_ratio,
            "",
            |v| v >= 0.5,
        );
        let compensating = single
            .iter()
            .filter(|c| c.cell.compensate > 0.0)
            .filter_map(|c| {
                let all_success = at(c.cell.concurrency, 0.0)?.medians.sagas_per_s?;
                Some(c.medians.sagas_per_s? / all_success)
            })
            .min_by(f64::total_cmp);
        add(
            "10 % compensating ≥ 80 % of all-success throughput, worst concurrency",
            compensating,
            "",
            |v| v >= 0.8,
        );
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SqliteSync;
    use crate::matrix::figures::Medians;
    use crate::matrix::plan::Cell;

    fn cell(concurrency: u32, compensate: f64, sagas_per_s: f64, p99_ms: f64) -> CellResult {
        CellResult {
            cell: Cell {
                backend: Backend::Sqlite,
                sqlite_sync: SqliteSync::Full,
                replicas: 1,
                concurrency,
                compensate,
            },
            medians: Medians {
                sagas_per_s: Some(sagas_per_s),
                p50_ms: Some(p99_ms / 2.0),
                p99_ms: Some(p99_ms),
                saga_over_direct: Some(0.6),
                ..Medians::default()
            },
            runs: Vec::new(),
            broken: Vec::new(),
        }
    }

    #[test]
    fn each_target_is_checked_against_its_cell() {
        let cells = [
            cell(1, 0.0, 400.0, 4.0),
            cell(64, 0.0, 2_500.0, 60.0),
            cell(64, 0.1, 1_500.0, 70.0),
        ];
        let found: Vec<(&str, String, bool)> = checks(&cells)
            .into_iter()
            .map(|c| (c.target, c.figure, c.met))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "≥ 2,000 sagas/s at concurrency 64",
                    "2500.00 /s".into(),
                    true
                ),
                ("p50 ≤ 2 ms at concurrency 1", "2.00 ms".into(), true),
                ("p99 ≤ 5 ms at concurrency 1", "4.00 ms".into(), true),
                ("p99 ≤ 50 ms at concurrency 64", "60.00 ms".into(), false),
                (
                    "saga ≥ 50 % of direct at concurrency 64",
                    "0.60".into(),
                    true
                ),
                ("saga ≥ 50 % of direct, lowest cell", "0.60".into(), true),
                (
                    "10 % compensating ≥ 80 % of all-success throughput, worst concurrency",
                    "0.60".into(),
                    false
                ),
            ]
        );
    }
}
