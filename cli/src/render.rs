//! Sagas as text for a terminal.

use std::fmt::Write;

use saga_contracts::saga::v1 as pb;

/// One line per saga.
pub fn summary(saga: &pb::Saga) -> String {
    format!(
        "{}  {:<12} {:>10} {}  customer={} order={} invoice={}",
        saga.saga_id,
        status(saga.status),
        saga.total_cents,
        saga.currency,
        saga.customer_id,
        or_dash(&saga.order_id),
        or_dash(&saga.invoice_id),
    )
}

/// One line per live replica, after a header.
pub fn replicas(replicas: &[pb::Replica]) -> String {
    let mut out = format!(
        "{:<32} {:>11} {:>10}  {:<24}  {}",
        "REPLICA", "INCARNATION", "SAGAS HELD", "STARTED", "LAST HEARTBEAT"
    );
    for replica in replicas {
        let _ = write!(
            out,
            "\n{:<32} {:>11} {:>10}  {:<24}  {}",
            replica.replica_id,
            replica.incarnation,
            replica.sagas_held,
            time(replica.started_at.as_ref()),
            time(replica.last_heartbeat.as_ref()),
        );
    }
    out
}

/// A saga with its steps and its whole log.
pub fn saga(saga: &pb::Saga) -> String {
    let mut out = summary(saga);
    if !saga.definition.is_empty() {
        let _ = write!(
            out,
            "\n  definition: {} v{}",
            saga.definition, saga.definition_version
        );
    }
    if !saga.error.is_empty() {
        let _ = write!(out, "\n  error: {}", saga.error);
    }
    if !saga.output_json.is_empty() {
        let _ = write!(out, "\n  output: {}", saga.output_json);
    }
    for step in &saga.steps {
        let _ = write!(
            out,
            "\n  step {:<20} {:<13} attempts {:<3} {}",
            step.name, step.status, step.attempts, step.error
        );
    }
    for entry in &saga.log {
        let _ = write!(out, "\n{}", log_entry(entry));
    }
    out
}

/// One log record on a line: seq, step, phase, outcome, attempt, writer and version,
/// detail.
pub fn log_entry(entry: &pb::SagaLogEntry) -> String {
    let phase = match pb::StepPhase::try_from(entry.phase) {
        Ok(pb::StepPhase::Unspecified) | Err(_) => String::new(),
        Ok(p) => p
            .as_str_name()
            .trim_start_matches("STEP_PHASE_")
            .to_lowercase(),
    };
    let outcome = pb::StepOutcome::try_from(entry.outcome)
        .map(|o| {
            o.as_str_name()
                .trim_start_matches("STEP_OUTCOME_")
                .to_lowercase()
        })
        .unwrap_or_default();
    format!(
        "  {:>3}  {:<15} {:<13} {:<16} attempt {:<3} {:<20} {}",
        entry.seq,
        entry.step,
        phase,
        outcome,
        entry.attempt,
        format!("{}@v{}", entry.writer, entry.version),
        entry.detail
    )
}

fn status(value: i32) -> String {
    pb::SagaStatus::try_from(value)
        .map(|status| status.short_name().to_string())
        .unwrap_or_else(|_| value.to_string())
}

fn or_dash(id: &str) -> &str {
    if id.is_empty() { "-" } else { id }
}

/// A timestamp in RFC 3339, or a dash.
fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.map_or_else(|| "-".to_string(), ToString::to_string)
}
