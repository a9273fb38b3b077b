//! The targets of issue 14 checked against the matrix's medians (durable settings only):
//! throughput at concurrency 64 and 256, CPU per saga, saga/direct, latency at 1 and 64,
//! and the cost of compensating. (The open-loop targets are checked with their rows.)

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

/// Every target for every backend of the matrix (a target without its cell, or not set
/// for the backend, is left out).
pub fn checks(cells: &[CellResult]) -> Vec<Check> {
    let mut checks = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let sqlite = backend == Backend::Sqlite;
        let single: Vec<&CellResult> = cells
            .iter()
            .filter(|c| c.cell.backend == backend && c.cell.replicas == 1 && c.cell.durable())
            .collect();
        let at = |concurrency: u32, compensate: f64| {
            single
                .iter()
                .find(|c| c.cell.concurrency == concurrency && c.cell.compensate == compensate)
                .map(|c| &c.medians)
        };
        let mut add = |target, figure: Option<f64>, unit: &str, met: &dyn Fn(f64) -> bool| {
            if let Some(value) = figure {
                checks.push(Check {
                    target,
                    backend,
                    figure: format!("{value:.2}{unit}"),
                    met: met(value),
                });
            }
        };
        let (c1, c64, c256) = (at(1, 0.0), at(64, 0.0), at(256, 0.0));
        let (target, least) = match sqlite {
            true => ("≥ 2,000 sagas/s at concurrency 64", 2_000.0),
            false => ("≥ 1,600 sagas/s at concurrency 64", 1_600.0),
        };
        add(target, c64.and_then(|m| m.sagas_per_s), " /s", &|v| {
            v >= least
        });
        if sqlite {
            add(
                "≥ 2,500 sagas/s at concurrency 256",
                c256.and_then(|m| m.sagas_per_s),
                " /s",
                &|v| v >= 2_500.0,
            );
            add(
                "CPU ≤ 0.8 ms per saga at concurrency 64, all processes",
                c64.and_then(|m| m.cpu_ms_per_saga),
                " ms",
                &|v| v <= 0.8,
            );
        }
        add(
            "saga ≥ 0.7 of direct at concurrency 64",
            c64.and_then(|m| m.saga_over_direct),
            "",
            &|v| v >= 0.7,
        );
        add(
            "p99 ≤ 60 ms at concurrency 64",
            c64.and_then(|m| m.p99_ms),
            " ms",
            &|v| v <= 60.0,
        );
        if sqlite {
            add(
                "p50 ≤ 3 ms at concurrency 1",
                c1.and_then(|m| m.p50_ms),
                " ms",
                &|v| v <= 3.0,
            );
        }
        let compensating = single
            .iter()
            .filter(|c| c.cell.compensate > 0.0)
            .filter_map(|c| {
                let all_success = at(c.cell.concurrency, 0.0)?.sagas_per_s?;
                Some(c.medians.sagas_per_s? / all_success)
            })
            .min_by(f64::total_cmp);
        add(
            "10 % compensating within 10 % of all-success throughput, worst concurrency",
            compensating,
            "",
            &|v| v >= 0.9,
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
                cpu_ms_per_saga: Some(0.9),
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
            cell(64, 0.1, 2_200.0, 70.0),
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
                (
                    "CPU ≤ 0.8 ms per saga at concurrency 64, all processes",
                    "0.90 ms".into(),
                    false
                ),
                (
                    "saga ≥ 0.7 of direct at concurrency 64",
                    "0.60".into(),
                    false
                ),
                ("p99 ≤ 60 ms at concurrency 64", "60.00 ms".into(), true),
                ("p50 ≤ 3 ms at concurrency 1", "2.00 ms".into(), true),
                (
                    "10 % compensating within 10 % of all-success throughput, worst concurrency",
                    "0.88".into(),
                    false
                ),
            ]
        );
    }

    #[test]
    fn postgres_has_its_own_throughput_target_and_no_sqlite_only_ones() {
        let mut cell = cell(64, 0.0, 1_700.0, 50.0);
        cell.cell.backend = Backend::Postgres;
        let found: Vec<(&str, bool)> = checks(&[cell])
            .into_iter()
            .map(|c| (c.target, c.met))
            .collect();
        assert_eq!(
            found,
            [
                ("≥ 1,600 sagas/s at concurrency 64", true),
                ("saga ≥ 0.7 of direct at concurrency 64", false),
                ("p99 ≤ 60 ms at concurrency 64", true),
            ]
        );
    }
}
