//! The phases of a campaign: chaos while placing, calm, a deliberate outage watched for
//! busy looping, quiescence, then the check and the report.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cpu::cpu_seconds;
use super::figures::{
    direct_figures, error_figures, fault_figures, last_saga_end_ms, ownership_figures,
    saga_figures, unix_ms,
};
use super::load::{Load, LoadSettings};
use super::node_id::NodeId;
use super::plan::Plan;
use super::quiesce::{
    EVENT_REDELIVERY, QUIESCE_POLL, wait_until_every_event_acted_on, wait_until_quiet,
};
use super::report::{Liveness, Report};
use super::setup::set_up;
use super::stage::Stage;
use super::{ChaosConfig, Flow, say};
use crate::binaries::Binary;
use crate::direct::all_events;
use crate::invariants::direct::{
    direct_placement_violations, invoicing_violations, outbox_violations,
};
use crate::invariants::{
    Snapshot, liveness_violations, placement_violations, reservation_violations,
};
use crate::pattern::Pattern;
use crate::stock::reservations;
use saga_contracts::orders::v1::OrderEvent;

/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Slack for the clients beyond every phase's own bound.
const CLIENT_SLACK: Duration = Duration::from_secs(60);

/// Runs every phase in `dir` and reports.
pub async fn run(config: &ChaosConfig, dir: &Path) -> Result<Report> {
    let began = Instant::now();
    let plan = Plan::generate(config.seed, &config.schedule());
    say(
        config,
        &format!(
            "seed {}: {} scheduled actions over {:?}, folder {}",
            config.seed,
            plan.actions.len(),
            config.duration,
            dir.display()
        ),
    );
    let (mut stage, clients) = set_up(config, &plan, dir).await?;
    stage.start_all().await?;
    let load = Load::new(
        clients.orchestrators.clone(),
        clients.orders.clone(),
        load_settings(config, &plan),
    );
    let give_up = Instant::now()
        + config.duration
        + config.outage
        + config.quiesce_timeout.saturating_mul(2)
        + CLIENT_SLACK;

    // Chaos while placing.
    let placing = Instant::now();
    let stop = CancellationToken::new();
    let placed_all = CancellationToken::new();
    let probes = config.probe_sagas.min(config.sagas / 2);
    let main_limit = config.sagas - probes;
    let placer = tokio::spawn({
        let (load, stop, placed_all) = (load.clone(), stop.clone(), placed_all.clone());
        async move {
            load.run(main_limit, stop, give_up).await;
            placed_all.cancel();
        }
    });
    let mut last_progress = Instant::now();
    let mut longest_stall = Duration::ZERO;
    stage
        .run_plan(
            &plan.actions,
            placing,
            placing + config.duration,
            &placed_all,
            |stage| {
                // A PostgreSQL restart stops every answer until the server is back;
                // the clients' stall counts from then.
                let stalled = load.since_last_answer().min(stage.database_up_for());
                longest_stall = longest_stall.max(stalled);
                if config.verbose && last_progress.elapsed() >= PROGRESS_EVERY {
                    last_progress = Instant::now();
                    say(config, &progress(&load, stage, placing));
                }
            },
        )
        .await?;
    stop.cancel();
    let placing_secs = placing.elapsed().as_secs_f64();
    say(
        config,
        &format!("placing stopped after {placing_secs:.1}s; calming down"),
    );

    // Calm: faults off, every process up, the clients' last keys answered.
    stage.calm().await?;
    let _ = tokio::time::timeout(config.quiesce_timeout, placer).await;
    let settled = wait_until_quiet(&clients, config.quiesce_timeout).await?;
    say(config, &format!("quiet again: {settled}"));

    // A deliberate outage of a participant, with fresh sagas retrying against it.
    let liveness = outage(config, probes, &mut stage, &load, give_up).await?;
    let last_fault = SystemTime::now();
    let quiescing = Instant::now();
    // The liveness rule: nothing unfinished a bound after the outage, the last fault,
    // ended; the wait goes on past the bound, so the report says how long it took.
    let bound = config.orchestrator.liveness_bound();
    let fault_ended = stage.last_fault.unwrap_or(quiescing);
    let wait = config
        .quiesce_timeout
        .max(bound.saturating_sub(fault_ended.elapsed()) + QUIESCE_POLL * 2);
    let quiet = wait_until_quiet(&clients, wait).await?;
    let quiesce_secs = quiescing.elapsed().as_secs_f64();
    say(config, &format!("after the outage: {quiet}"));
    let late = liveness_violations(bound, &quiet.stragglers(fault_ended));
    if matches!(config.pattern, Pattern::Events | Pattern::EventsNats) {
        let waiting = Instant::now();
        let missing = wait_until_every_event_acted_on(&clients, EVENT_REDELIVERY).await?;
        let waited = waiting.elapsed().as_secs_f64();
        say(
            config,
            &format!("every event acted on after {waited:.1}s ({missing} still without a saga)"),
        );
        // A saga started late may still be running: let it end.
        wait_until_quiet(&clients, config.quiesce_timeout).await?;
    }

    // The check.
    let snapshot =
        Snapshot::read(&clients.orchestrator, &clients.orders, &clients.invoices).await?;
    let events = match config.pattern.direct() {
        true => all_events(&clients.orders).await?,
        false => Vec::new(),
    };
    let reservations = match config.flow {
        Flow::PlaceOrder => BTreeMap::new(),
        Flow::OrderWithStock => reservations(stage.database(Binary::InventorySvc)?).await?,
    };
    stage.stop_all().await?;
    let mut violations = snapshot.violations();
    if config.flow == Flow::OrderWithStock {
        violations.extend(reservation_violations(
            &snapshot.sagas,
            config.flow.name(),
            &reservations,
        ));
    }
    let unfinished_past_bound = late.clone();
    violations.extend(late);
    match config.pattern.direct() {
        true => violations.extend(direct_violations(config, &load, &snapshot, &events)),
        false => violations.extend(placement_violations(&load.placements(), &snapshot.sagas)),
    }
    violations.extend(load.figures().odd_answers);
    for node in stage.nodes.values() {
        violations.extend(node.figures().unexpected_exits.iter().cloned());
    }
    let liveness = Liveness {
        last_fault_to_last_saga_ms: last_saga_end_ms(&snapshot.sagas) - unix_ms(last_fault),
        quiesce_secs,
        quiesced: quiet.is_quiet(),
        liveness_bound_secs: bound.as_secs_f64(),
        unfinished_past_bound,
        longest_stall_secs: longest_stall.as_secs_f64(),
        stall_limit_secs: config.stall_limit.as_secs_f64(),
        ..liveness
    };
    if longest_stall > config.stall_limit {
        violations.push(format!(
            "liveness: no PlaceOrder was answered for {:.1}s while placing (limit {:?})",
            longest_stall.as_secs_f64(),
            config.stall_limit
        ));
    }
    if liveness.orchestrator_cpu_per_sec > liveness.busy_loop_threshold {
        violations.push(format!(
            "busy loop? the orchestrators used {:.2} CPU-s per second while {} was down",
            liveness.orchestrator_cpu_per_sec, liveness.outage_of
        ));
    }
    Ok(Report {
        seed: config.seed,
        backend: config.backend.name().to_string(),
        replicas: config.replicas.max(1),
        replay: config.replay_command(),
        dir: dir.display().to_string(),
        kept_dir: false,
        placing_secs,
        total_secs: began.elapsed().as_secs_f64(),
        definition: config.flow.name().to_string(),
        sagas: saga_figures(&snapshot, &load, &reservations),
        direct: config
            .pattern
            .direct()
            .then(|| direct_figures(config.pattern, &snapshot, &events, &stage, dir)),
        load: load.figures(),
        faults: fault_figures(&stage, dir),
        processes: stage
            .nodes
            .values()
            .map(|n| (n.id().name(), n.figures().clone()))
            .collect(),
        ownership: ownership_figures(&stage, dir),
        connection_drops: stage.connection_drops(),
        server_restarts: stage.server_restarts(),
        database_proxy: stage.database_proxy_figures(),
        liveness,
        service_errors: error_figures(&stage, dir),
        violations,
    })
}

/// With a direct pattern, every rule of [`crate::invariants::direct`]: the client's
/// keys, the outbox, and the invoicing (every event starts a saga on the event paths;
/// the sweep may skip a version that changed before it looked).
fn direct_violations(
    config: &ChaosConfig,
    load: &Load,
    snapshot: &Snapshot,
    events: &[OrderEvent],
) -> Vec<String> {
    let mut found = direct_placement_violations(&load.direct_placements(), &snapshot.orders);
    found.extend(outbox_violations(&snapshot.orders, events));
    found.extend(invoicing_violations(
        &snapshot.orders,
        events,
        &snapshot.sagas,
        &snapshot.invoices,
        config.pattern != Pattern::Sync,
    ));
    found
}

fn load_settings(config: &ChaosConfig, plan: &Plan) -> LoadSettings {
    LoadSettings {
        run_seed: config.seed,
        load_seed: plan.load_seed,
        concurrency: config.concurrency,
        wait_ms: config.wait_ms,
        flow: config.flow,
        pattern: config.pattern,
        update_share: config.update_share,
        withdraw_share: config.withdraw_share,
        over_limit_share: config.over_limit_share,
        refused_share: config.refused_share,
        max_invoice_cents: config.max_invoice_cents,
        call_timeout: config.call_timeout,
        think: config.think,
    }
}

/// Takes `invoices-svc` down, places the probe sagas, measures the orchestrators' CPU
/// (all replicas together) over the outage, and brings the participant back without
/// faults.
async fn outage(
    config: &ChaosConfig,
    probes: usize,
    stage: &mut Stage,
    load: &Load,
    give_up: Instant,
) -> Result<Liveness> {
    let down = NodeId::INVOICES;
    stage.journal.note(&format!("outage of {down} begins"));
    stage.node(down)?.outage().await?;
    let pids = stage
        .orchestrators()
        .map(|n| {
            n.pid()
                .with_context(|| format!("{} is not running", n.id()))
        })
        .collect::<Result<Vec<_>>>()?;
    let cpu = || -> Result<f64> { pids.iter().map(|pid| cpu_seconds(*pid)).sum() };
    let before = cpu()?;
    let began = Instant::now();
    let probes = tokio::spawn({
        let (load, limit) = (load.clone(), load.taken() + probes);
        async move { load.run(limit, CancellationToken::new(), give_up).await }
    });
    // The outage is a measured window, not a wait for a condition.
    tokio::time::sleep(config.outage).await;
    let used = cpu()? - before;
    let outage_secs = began.elapsed().as_secs_f64();
    stage.node(down)?.start().await?;
    stage.journal.note(&format!("outage of {down} ends"));
    stage.last_fault = Some(Instant::now());
    let _ = tokio::time::timeout(config.quiesce_timeout, probes).await;
    say(
        config,
        &format!("outage of {down}: orchestrators used {used:.3} CPU-s in {outage_secs:.1}s"),
    );
    Ok(Liveness {
        outage_of: down.name(),
        outage_secs,
        orchestrator_cpu_secs: used,
        orchestrator_cpu_per_sec: used / outage_secs.max(0.001),
        busy_loop_threshold: config.busy_loop_threshold,
        ..Liveness::default()
    })
}

fn progress(load: &Load, stage: &Stage, placing: Instant) -> String {
    let figures = load.figures();
    let kills: Vec<String> = stage
        .nodes
        .values()
        .map(|n| {
            let f = n.figures();
            format!("{} k{} p{} c{}", n.id(), f.kills, f.pauses, f.crashes)
        })
        .collect();
    let restarts = stage.server_restarts().restarts;
    format!(
        "{:.0}s: {} keys sent, {} answered, {} calls; {}{}",
        placing.elapsed().as_secs_f64(),
        figures.sent,
        figures.answered,
        figures.calls,
        kills.join(", "),
        match restarts {
            0 => String::new(),
            n => format!("; database server restarted {n}x"),
        }
    )
}
