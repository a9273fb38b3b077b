//! One benchmark run: open the stack, run the saga phase, let its sagas end, run the floor
//! phase, check the invariants, stop the stack, and put the report together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::config::{Backend, Config};
use crate::cpu::Snapshot;
use crate::floor::DirectCalls;
use crate::load::{Operation, Tally, drive};
use crate::log_cost::{Growth, LogCost};
use crate::progress::Progress;
use crate::report::{Phase, Ratio, Report};
use crate::saga::SagaCalls;
use crate::stack::Stack;
use crate::verify::{settle, verify};
use crate::workload::Workload;

/// Runs the benchmark the flags describe.
pub async fn run(config: &Config) -> Result<Report> {
    config.validate()?;
    // Eight hex digits: enough to tell runs against one running stack apart.
    let run_id: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(8)
        .collect();
    let workload = Workload::new(&run_id, config.compensate_share);
    let stack = Stack::open(config).await?;
    let result = measure(config, &stack, &workload).await;
    let stopped = stack.stop().await;
    let report = result?;
    stopped?;
    Ok(report)
}

async fn measure(config: &Config, stack: &Stack, workload: &Workload) -> Result<Report> {
    let clients = stack.connect(config.connections).await?;
    let settle_time = Duration::from_secs(config.settle_secs);

    let servers = stack.servers();
    let db_before = stack.log_size().await;
    let wal_before = stack.wal_position().await;
    let sagas = Arc::new(SagaCalls::new(
        clients.clone(),
        workload.clone(),
        config.definition,
        config.timeout(),
    ));
    let saga = phase("saga", config, &servers, sagas.clone()).await?;
    if let Err(e) = settle(&clients, settle_time).await {
        // The check below lists the sagas that did not end as violations.
        eprintln!("saga-bench: {e:#}");
    }
    let growth = Growth {
        db: Growth::between(db_before, stack.log_size().await),
        wal: Growth::between(wal_before, stack.wal_position().await),
    };

    let floor = if config.measure_floor() {
        let direct = Arc::new(DirectCalls::new(
            clients.clone(),
            workload.clone(),
            config.call_timeout(),
        ));
        Some(phase("floor", config, &servers, direct).await?)
    } else {
        None
    };

    let (invariants, run_sagas) = verify(&clients, workload, &sagas.placements()).await?;
    let passed = invariants.passed && saga.ended > 0;
    Ok(Report {
        run_id: workload.run_id().to_string(),
        stack: if stack.started_here() {
            "started"
        } else {
            "running"
        },
        backend: config.backend,
        definition: config.definition,
        sqlite_sync: (stack.started_here() && config.backend == Backend::Sqlite)
            .then_some(config.sqlite_sync),
        replicas: stack.orchestrator_urls.len(),
        pace: config.pace(),
        bound: config.bound(),
        compensate_share: config.compensate_share,
        faults: config.faults.clone(),
        connections: config.connections,
        saga_log: LogCost::of(&run_sagas, growth, saga.ended),
        saga_over_direct: floor.as_ref().map(|f| Ratio::of(&saga, f)),
        saga,
        floor,
        invariants,
        passed,
    })
}

/// Drives one phase with a progress line, accounting for the CPU and writes of the
/// processes started here and of the `servers`' process trees.
async fn phase<O: Operation>(
    name: &'static str,
    config: &Config,
    servers: &[u32],
    operation: Arc<O>,
) -> Result<Phase> {
    let tally = Arc::new(Tally::new()?);
    let bound = config.bound();
    let progress = Progress::start(name, tally.clone(), bound.sagas, config.quiet);
    let before = Snapshot::take(servers);
    let elapsed = drive(operation, config.pace(), bound, &tally).await?;
    let usage = before.until(&Snapshot::take(servers));
    drop(progress);
    Ok(Phase::new(&tally, elapsed, &usage))
}
