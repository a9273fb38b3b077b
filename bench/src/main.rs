//! `saga-bench`: load the saga orchestrator, measure the direct-call floor beside it,
//! check the invariants, and report (a table, or one JSON object with `--json`);
//! `saga-bench matrix` runs the standard matrix and writes its table and plot.

mod config;
mod cpu;
mod floor;
mod latency;
mod load;
mod log_cost;
mod matrix;
mod outcome;
mod patterns;
mod progress;
mod report;
mod run;
mod saga;
mod stack;
mod storage;
mod table;
mod verify;
mod workload;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::matrix::MatrixConfig;

/// Drives PlaceOrder at a fixed concurrency or arrival rate, measures the direct-call
/// floor beside it, and checks the cross-service invariants at the end.
#[derive(Debug, Parser)]
#[command(name = "saga-bench", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the standard matrix (SQLite and PostgreSQL; concurrency 1, 16, 64, 256; 0 %
    /// and 10 % compensating; SQLite `synchronous=normal` at 1 and 64; 1, 2, 4 replicas at
    /// 64), a few runs per cell, and writes the medians as a markdown table and an SVG
    /// plot.
    Matrix(MatrixConfig),
    /// Runs the same workload through each consistency pattern (orchestrated request,
    /// events over orders-svc's stream and over NATS JetStream, background sync), each on
    /// a fresh SQLite stack, with and without invoices-svc paused mid-run, and reports
    /// them side by side.
    Patterns(patterns::PatternsConfig),
}

/// Exit code of a run that measured but found violations (or no saga ended).
const FAILED_RUN: u8 = 1;
/// Exit code of a run that could not be carried out.
const BROKEN_RUN: u8 = 2;
/// Exit code of a run stopped with Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Patterns(config)) = &cli.command {
        return tokio::select! {
            outcome = patterns::run(config) => match outcome {
                Ok(report) => patterns_done(config, &report),
                Err(e) => {
                    eprintln!("saga-bench patterns: {e:#}");
                    ExitCode::from(BROKEN_RUN)
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("saga-bench patterns: interrupted");
                ExitCode::from(INTERRUPTED)
            }
        };
    }
    if let Some(Command::Matrix(matrix)) = cli.command {
        return tokio::select! {
            outcome = matrix::run(&matrix) => match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("saga-bench matrix: {e:#}");
                    ExitCode::from(BROKEN_RUN)
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("saga-bench matrix: interrupted");
                ExitCode::from(INTERRUPTED)
            }
        };
    }
    let config = cli.run;
    // Ctrl-C reaches the services a started stack runs too (one process group), so the
    // run cannot go on: it ends at once, and dropping the stack stops what is left.
    let outcome = tokio::select! {
        outcome = run::run(&config) => outcome,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("saga-bench: interrupted");
            return ExitCode::from(INTERRUPTED);
        }
    };
    let report = match outcome {
        Ok(report) => report,
        Err(e) => {
            eprintln!("saga-bench: {e:#}");
            return ExitCode::from(BROKEN_RUN);
        }
    };
    if config.json {
        match serde_json::to_string(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("saga-bench: cannot encode the report: {e}");
                return ExitCode::from(BROKEN_RUN);
            }
        }
    } else {
        print!("{}", report.table());
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "saga-bench: the run failed; SAGA_TESTS_KEEP_DIR=1 keeps a started stack's \
             databases and logs"
        );
        ExitCode::from(FAILED_RUN)
    }
}

/// Prints (and writes, with `--out`) the patterns' report.
fn patterns_done(config: &patterns::PatternsConfig, report: &patterns::Report) -> ExitCode {
    if config.json {
        match serde_json::to_string(report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("saga-bench patterns: cannot encode the report: {e}");
                return ExitCode::from(BROKEN_RUN);
            }
        }
    } else {
        print!("{}", report.table());
    }
    if let Some(dir) = &config.out {
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(dir.join("patterns.md"), report.table()))
            .and_then(|()| std::fs::write(dir.join("patterns.svg"), report.svg()));
        if let Err(e) = written {
            eprintln!("saga-bench patterns: cannot write {}: {e}", dir.display());
            return ExitCode::from(BROKEN_RUN);
        }
    }
    ExitCode::SUCCESS
}
