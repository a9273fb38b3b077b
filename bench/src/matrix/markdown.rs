//! The matrix as markdown: how it ran, one row of medians per cell, and the targets.

use std::fmt::Write as _;

use super::overload::{OverloadFigures, OverloadResult};
use super::{CellResult, Matrix, targets};

/// The whole `matrix.md`.
pub fn render(matrix: &Matrix) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# saga-bench matrix\n");
    let load = |l: Option<f64>| l.map_or("-".to_string(), |l| format!("{l:.2}"));
    let _ = writeln!(
        out,
        "Run {} UTC on {} CPUs, binaries from `{}`; {} runs per cell, {} s of load per phase \
         (saga, then direct floor), {} connections per service; every run on a fresh stack. \
         Medians of the runs, each figure on its own. Took {:.0} s; load average (1 min) {} \
         before, {} after.\n",
        utc(matrix.started_unix_s),
        matrix.cpus,
        matrix.bin_dir,
        matrix.runs_per_cell,
        matrix.duration_s,
        matrix.connections,
        matrix.elapsed_s,
        load(matrix.load_1m_before),
        load(matrix.load_1m_after),
    );
    for why in &matrix.skipped {
        let _ = writeln!(out, "- {why}");
    }
    out.push_str(&table(&matrix.cells));
    out.push_str(
        "\nCPU is per ended saga over the saga phase: *all* adds up the three services, the \
         PostgreSQL server's processes (the whole server) and the load generator. *Busy* is \
         how many of the machine's CPUs were busy on average, others' work included; *load* \
         the 1-minute load average at the end of the runs. *sqlite (normal)* runs the three \
         services with SQLite `synchronous=normal` (no fsync per commit); every other row is \
         durable (SQLite `synchronous=full`, PostgreSQL `synchronous_commit` as the server \
         has it).\n",
    );
    if let Some(capacity) = matrix.capacity.filter(|_| !matrix.overload.is_empty()) {
        out.push_str(&overload_table(capacity, &matrix.overload));
    }
    let _ = writeln!(out, "\n## Targets (issue 14)\n");
    let _ = writeln!(out, "| target | backend | median | met |");
    let _ = writeln!(out, "|---|---|---:|---|");
    for check in targets::checks(&matrix.cells) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            check.target,
            check.backend,
            check.figure,
            if check.met { "yes" } else { "**no**" }
        );
    }
    let broken: Vec<String> = matrix
        .cells
        .iter()
        .flat_map(|c| {
            c.broken
                .iter()
                .map(move |why| format!("- {}: {why}", c.cell.label()))
        })
        .collect();
    if !broken.is_empty() {
        let _ = writeln!(out, "\n## Runs that could not be carried out\n");
        out.push_str(&broken.join("\n"));
        out.push('\n');
    }
    out
}

fn table(cells: &[CellResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| backend | replicas | concurrency | compensating | sagas/s | p50 ms | p99 ms | \
         direct sagas/s | direct p50 ms | direct p99 ms | saga/direct | CPU ms/saga all | \
         orchestrator | postgres | busy CPUs | load | passed |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in cells {
        let m = &c.medians;
        let f =
            |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        let errors = if m.errors > 0 {
            format!(" ({} errors)", m.errors)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} % | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}{errors} |",
            c.cell.storage(),
            c.cell.replicas,
            c.cell.concurrency,
            c.cell.compensate * 100.0,
            f(m.sagas_per_s, 0),
            f(m.p50_ms, 2),
            f(m.p99_ms, 2),
            f(m.floor_sagas_per_s, 0),
            f(m.floor_p50_ms, 2),
            f(m.floor_p99_ms, 2),
            f(m.saga_over_direct, 2),
            f(m.cpu_ms_per_saga, 2),
            f(m.orchestrator_cpu_ms_per_saga, 2),
            f(m.postgres_cpu_ms_per_saga, 2),
            f(m.busy_cpus, 2),
            f(m.load_1m, 2),
            m.passed,
            m.runs,
        );
    }
    out
}

/// The open-loop rows, and how they hold against the overload targets (issue 14).
fn overload_table(capacity: f64, rows: &[OverloadResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Open loop (durable SQLite)\n\nSagas offered on a fixed schedule at multiples of \
         the capacity, {capacity:.0} sagas/s (the best durable, all-success SQLite row above), \
         for the matrix's duration; latency counts from each saga's scheduled start. Past \
         capacity the orchestrator refuses new sagas RESOURCE_EXHAUSTED once their wait for \
         a place would exceed `--max-queue-delay-ms`.\n"
    );
    let _ = writeln!(
        out,
        "| offered | sagas/s offered | ended/s | ended / capacity | refused/s | accepted p50 ms \
         | accepted p99 ms | refusal p99 ms | other errors | orchestrator peak MiB | passed |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let f = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    for row in rows {
        let m = &row.medians;
        let _ = writeln!(
            out,
            "| {}× | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            row.multiple,
            row.rate,
            f(m.goodput_per_s, 0),
            f(m.goodput_per_s.map(|g| g / capacity), 2),
            f(m.refused_per_s, 0),
            f(m.accepted_p50_ms, 1),
            f(m.accepted_p99_ms, 1),
            f(m.refusal_p99_ms, 2),
            m.other_errors,
            f(m.orchestrator_peak_mib, 0),
            m.passed,
            m.runs,
        );
    }
    let overloaded: Vec<&OverloadResult> = rows.iter().filter(|r| r.multiple >= 2.0).collect();
    if !overloaded.is_empty() {
        let all = |f: &dyn Fn(&OverloadFigures) -> Option<bool>| {
            let met = overloaded
                .iter()
                .map(|r| f(&r.medians))
                .collect::<Option<Vec<_>>>();
            match met {
                Some(met) if met.iter().all(|&m| m) => "yes",
                Some(_) => "**no**",
                None => "-",
            }
        };
        let _ = writeln!(out, "\nAt 2× capacity and beyond (issue 14):\n");
        let _ = writeln!(
            out,
            "- ended ≥ 0.9 of capacity: {}\n- accepted p99 ≤ 300 ms: {}\n- refusals p99 < 5 ms: {}",
            all(&|m| m.goodput_per_s.map(|g| g >= 0.9 * capacity)),
            all(&|m| m.accepted_p99_ms.map(|p| p <= 300.0)),
            all(&|m| m.refusal_p99_ms.map(|p| p < 5.0)),
        );
    }
    out
}

/// `YYYY-MM-DD HH:MM` of a Unix time (UTC), without a date library.
fn utc(unix_s: u64) -> String {
    let days = i64::try_from(unix_s / 86_400).unwrap_or(0);
    let minutes = unix_s % 86_400 / 60;
    // Days to civil date (Howard Hinnant's algorithm), valid for every date after 1970.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix of the last committed run (`bench/results/matrix.json`), written out
    /// again: set `SAGA_BENCH_REDRAW=1` to write the table next to it.
    #[test]
    fn the_committed_matrix_renders_with_its_open_loop_rows_and_targets() -> anyhow::Result<()> {
        let (dir, matrix) = crate::matrix::committed()?;
        let table = render(&matrix);
        for text in [
            "| sqlite | 1 | 64 | 0 % |",
            "## Open loop",
            "| 3× |",
            "## Targets (issue 14)",
        ] {
            assert!(table.contains(text), "{text} missing");
        }
        if std::env::var_os("SAGA_BENCH_REDRAW").is_some() {
            std::fs::write(dir.join("matrix.md"), &table)?;
        }
        Ok(())
    }

    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc(1_767_225_599), "2025-12-31 23:59");
    }
}
