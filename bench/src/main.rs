//! `saga-bench`: load the saga orchestrator, measure the direct-call floor beside it,
//! check the invariants, and report (a table, or one JSON object with `--json`).

mod config;
mod cpu;
mod floor;
mod latency;
mod load;
mod log_cost;
mod outcome;
mod progress;
mod report;
mod run;
mod saga;
mod stack;
mod table;
mod verify;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use crate::config::Config;

/// Exit code of a run that measured but found violations (or no saga ended).
const FAILED_RUN: u8 = 1;
/// Exit code of a run that could not be carried out.
const BROKEN_RUN: u8 = 2;
/// Exit code of a run stopped with Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
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
