//! `saga-bench matrix`: the standard matrix (backends × concurrency × compensating
//! share, plus relaxed SQLite and PostgreSQL replicas at a few concurrencies, then open
//! loops at multiples of the capacity found), a few short runs per cell in rounds, their
//! medians written as a markdown table, an SVG plot and the raw JSON.

mod figures;
mod markdown;
mod overload;
mod plan;
mod svg;
mod targets;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser};
use serde::{Deserialize, Serialize};

use self::figures::{Medians, RunFigures, load_average};
use self::overload::{OverloadFigures, OverloadResult};
use self::plan::Cell;
use crate::config::{Backend, Config};
use crate::report::Report;

/// The matrix's flags; the defaults are the standard matrix.
#[derive(Debug, Clone, Args)]
pub struct MatrixConfig {
    /// Runs per cell; the table shows their medians. Runs go in rounds (every cell once,
    /// then again), so that a burst of other work on the machine spreads over cells.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub runs: u32,
    /// Seconds of load in each phase (saga, then direct floor) of a run.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Backends to run (PostgreSQL is left out, and said so, without a server URL).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["sqlite", "postgres"])]
    pub backends: Vec<Backend>,
    /// Closed-loop concurrencies.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64, 256])]
    pub concurrency: Vec<u32>,
    /// Shares of compensating sagas.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 0.1])]
    pub compensate: Vec<f64>,
    /// Concurrencies run again on SQLite with `synchronous=normal` (all-success), to show
    /// what the fsync per commit costs; give the flag no value for none.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = [1, 64])]
    pub sqlite_normal_concurrency: Vec<u32>,
    /// Orchestrator replicas on PostgreSQL (at --replicas-concurrency, all-success).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    pub replicas: Vec<u32>,
    /// Concurrency of the replica cells.
    #[arg(long, default_value_t = 64)]
    pub replicas_concurrency: u32,
    /// Open-loop rows on durable SQLite, after the closed loops: sagas offered at these
    /// multiples of the best closed-loop SQLite throughput found (give the flag no value
    /// for none).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = [0.5, 1.0, 2.0, 3.0])]
    pub overload: Vec<f64>,
    /// The PostgreSQL server (see `saga-bench --help`).
    #[arg(long, env = "SAGA_TEST_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// HTTP/2 connections to each service (and each replica).
    #[arg(long, default_value_t = 4)]
    pub connections: u32,
    /// Where `matrix.md`, `matrix.svg` and `matrix.json` go.
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
}

/// A cell and what its runs measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    pub cell: Cell,
    pub medians: Medians,
    pub runs: Vec<RunFigures>,
    /// Runs that could not be carried out, with why.
    pub broken: Vec<String>,
}

/// Everything the matrix wrote, for `matrix.json` and the markdown header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matrix {
    pub started_unix_s: u64,
    pub elapsed_s: f64,
    pub cpus: usize,
    pub bin_dir: String,
    pub runs_per_cell: u32,
    pub duration_s: f64,
    pub connections: u32,
    pub load_1m_before: Option<f64>,
    pub load_1m_after: Option<f64>,
    /// Backends asked for but left out, with why.
    pub skipped: Vec<String>,
    pub cells: Vec<CellResult>,
    /// Sagas per second the open-loop rows are multiples of.
    #[serde(default)]
    pub capacity: Option<f64>,
    #[serde(default)]
    pub overload: Vec<OverloadResult>,
}

/// Runs the matrix and writes its files into `--out`.
pub async fn run(config: &MatrixConfig) -> Result<()> {
    let started = Instant::now();
    let started_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let bin_dir = saga_tests::binaries::bin_dir()?;
    if !bin_dir.ends_with("release") {
        eprintln!(
            "saga-bench matrix: the services are not release builds ({}): figures will be \
             far off; run `cargo build --release --bins` and target/release/saga-bench",
            bin_dir.display()
        );
    }
    let (cells, skipped) = plan::cells(config);
    for why in &skipped {
        eprintln!("saga-bench matrix: {why}");
    }
    let load_1m_before = load_average();
    let mut results: Vec<CellResult> = cells
        .iter()
        .map(|cell| CellResult {
            cell: cell.clone(),
            medians: Medians::default(),
            runs: Vec::new(),
            broken: Vec::new(),
        })
        .collect();
    run_in_rounds(config, &mut results).await;
    for result in &mut results {
        result.medians = Medians::of(&result.runs, config.runs as usize);
    }
    let capacity = overload::capacity(&results);
    let overload = match capacity {
        Some(capacity) => run_overload(config, capacity).await,
        None if !config.overload.is_empty() => {
            eprintln!("saga-bench matrix: no open-loop rows: no durable SQLite cell measured");
            Vec::new()
        }
        None => Vec::new(),
    };
    let matrix = Matrix {
        started_unix_s,
        elapsed_s: started.elapsed().as_secs_f64(),
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        bin_dir: bin_dir.display().to_string(),
        runs_per_cell: config.runs,
        duration_s: config.duration,
        connections: config.connections,
        load_1m_before,
        load_1m_after: load_average(),
        skipped,
        cells: results,
        capacity,
        overload,
    };
    write(config, &matrix)
}

/// The open-loop rows at `capacity`, in rounds like the cells.
async fn run_overload(config: &MatrixConfig, capacity: f64) -> Vec<OverloadResult> {
    let mut rows = overload::rows(config, capacity);
    run_in_rounds(config, &mut rows).await;
    for row in &mut rows {
        row.medians = OverloadFigures::medians(&row.runs, config.runs as usize);
    }
    rows
}

/// A row of the matrix, run `--runs` times in rounds: a closed-loop cell or an open loop.
trait Row {
    type Figures;
    fn label(&self) -> String;
    fn run_config(&self, matrix: &MatrixConfig, round: u32) -> Result<Config>;
    /// The figures of one run, and its progress line.
    fn figures(report: &Report) -> (Self::Figures, String);
    fn record(&mut self, run: Result<Self::Figures, String>);
}

/// Runs every row once per round, printing a progress line per run; a run that could
/// not be carried out is recorded with why.
async fn run_in_rounds<R: Row>(config: &MatrixConfig, rows: &mut [R]) {
    let total = rows.len() * config.runs as usize;
    let mut done = 0;
    for round in 0..config.runs {
        for row in rows.iter_mut() {
            done += 1;
            let label = row.label();
            let report = match row.run_config(config, round) {
                Ok(run_config) => crate::run::run(&run_config).await,
                Err(e) => Err(e),
            };
            match report {
                Ok(report) => {
                    let (figures, line) = R::figures(&report);
                    eprintln!("[{done}/{total}] {label}: {line}");
                    row.record(Ok(figures));
                }
                Err(e) => {
                    eprintln!("[{done}/{total}] {label}: could not run: {e:#}");
                    row.record(Err(format!("{e:#}")));
                }
            }
        }
    }
}

impl Row for CellResult {
    type Figures = RunFigures;

    fn label(&self) -> String {
        self.cell.label()
    }

    fn run_config(&self, matrix: &MatrixConfig, round: u32) -> Result<Config> {
        self.cell.run_config(matrix, round)
    }

    fn figures(report: &Report) -> (RunFigures, String) {
        let figures = RunFigures::of(report, load_average());
        let line = summary(&figures);
        (figures, line)
    }

    fn record(&mut self, run: Result<RunFigures, String>) {
        match run {
            Ok(figures) => self.runs.push(figures),
            Err(why) => self.broken.push(why),
        }
    }
}

fn summary(f: &RunFigures) -> String {
    let floor = f
        .floor_sagas_per_s
        .map(|d| format!(", direct {d:.0}/s"))
        .unwrap_or_default();
    let verdict = if f.passed { "" } else { ", FAILED check" };
    format!(
        "{:.0} sagas/s, p50 {:.2} ms, p99 {:.2} ms{floor}, load {}{verdict}",
        f.sagas_per_s,
        f.p50_ms,
        f.p99_ms,
        f.load_1m.map_or("-".into(), |l| format!("{l:.2}"))
    )
}

fn write(config: &MatrixConfig, matrix: &Matrix) -> Result<()> {
    let out = &config.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let files = [
        ("matrix.md", markdown::render(matrix)),
        ("matrix.svg", svg::render(matrix)?),
        (
            "matrix.json",
            serde_json::to_string_pretty(matrix).context("cannot encode the matrix")?,
        ),
    ];
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// The matrix of the last committed run (`bench/results/matrix.json`) and its folder,
/// which the tests render again (and, with `SAGA_BENCH_REDRAW=1`, write back).
#[cfg(test)]
fn committed() -> Result<(PathBuf, Matrix)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let json = std::fs::read_to_string(dir.join("matrix.json"))?;
    Ok((dir, serde_json::from_str(&json)?))
}

/// A run's flags as `saga-bench` would parse them.
fn parse_run(args: &[String]) -> Result<Config> {
    let mut all = vec!["saga-bench".to_string()];
    all.extend(args.iter().cloned());
    Config::try_parse_from(all).context("bad flags for a matrix run")
}
