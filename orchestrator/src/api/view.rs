//! A stored saga as clients see it: its status, its steps by the definition's names,
//! its output so far and its log.

use saga_contracts::saga::v1 as pb;
use saga_definitions::machine::{Effect, Operation, Outcome, Position, SagaScope, SagaState};
use saga_definitions::{Definition, StepDef};
use serde_json::Value;

use super::attempts::calls;
use super::convert::{entry_to_proto, status_to_proto, timestamp};
use crate::store::{LogEntry, SagaRecord};

/// The saga message of `record`; `definition` is the version it runs, when it could be
/// loaded (without it, no steps and no output are shown).
pub fn saga_to_proto(record: SagaRecord, definition: Option<&Definition>) -> pb::Saga {
    let state = &record.state;
    let output = definition.and_then(|d| output_of(&record, d));
    let text = |value: &Value, field: &str| value[field].as_str().unwrap_or_default().to_string();
    let (order_id, invoice_id) = output
        .as_ref()
        .map(|o| (text(o, "order_id"), text(o, "invoice_id")))
        .unwrap_or_default();
    pb::Saga {
        saga_id: record.saga_id.clone(),
        status: status_to_proto(state.status()).into(),
        order_id,
        invoice_id,
        error: state.cause.clone().unwrap_or_default(),
        created_at: Some(timestamp(record.created_at_ms)),
        updated_at: Some(timestamp(record.updated_at_ms)),
        customer_id: text(&record.input, "customer_id"),
        total_cents: record.input["total_cents"].as_i64().unwrap_or_default(),
        currency: text(&record.input, "currency"),
        parked: state
            .pending()
            .is_some_and(|(_, _, progress)| progress.parked),
        steps: definition
            .map(|d| steps(d, state, &record.log))
            .unwrap_or_default(),
        definition: record.definition.clone(),
        definition_version: record.definition_version,
        input_json: record.input.to_string(),
        output_json: output.map(|o| o.to_string()).unwrap_or_default(),
        idempotency_key: record.idempotency_key.clone(),
        log: record.log.into_iter().map(entry_to_proto).collect(),
    }
}

/// The definition's output template over the steps' answers so far.
fn output_of(record: &SagaRecord, definition: &Definition) -> Option<Value> {
    let scope = SagaScope {
        saga_id: &record.saga_id,
        idempotency_key: &record.idempotency_key,
        input: &record.input,
        definition,
        state: &record.state,
    };
    definition.output.as_ref()?.render(&scope).ok()
}

/// Each step of the definition: where it stands, from the state, and its attempts and
/// last error, from the log when it is given.
fn steps(definition: &Definition, state: &SagaState, log: &[LogEntry]) -> Vec<pb::StepState> {
    let ended = state.status().is_terminal();
    definition
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let records = StepRecords::of(step, log);
            let status = status_of(index, state, &records);
            let current = match status {
                "compensating" | "compensated" => Operation::Compensation,
                _ => Operation::Action,
            };
            pb::StepState {
                name: step.name.clone(),
                status: status.to_string(),
                attempts: records.attempts(current).max(attempts_now(index, state)),
                output_json: state.effects[index]
                    .output()
                    .map(Value::to_string)
                    .unwrap_or_default(),
                error: records.last_error().unwrap_or_default(),
                calls: calls(&records.records, ended),
                next_attempt_at: next_attempt_ms(index, state).map(timestamp),
            }
        })
        .collect()
}

/// When step `index`'s next call is due, while it waits for its retry.
fn next_attempt_ms(index: usize, state: &SagaState) -> Option<i64> {
    state
        .pending()
        .filter(|(step, _, progress)| *step == index && !progress.in_flight)
        .and_then(|(_, _, progress)| progress.retry_at_ms)
}

/// pending, running, succeeded, failed, compensating or compensated.
fn status_of(index: usize, state: &SagaState, records: &StepRecords) -> &'static str {
    match state.position {
        Position::Forward { step, .. } if step == index => return "running",
        Position::Backward { step, .. } if step == index => return "compensating",
        _ => {}
    }
    if records.failed(Operation::Compensation) {
        return "failed";
    }
    match &state.effects[index] {
        Effect::Done(_) => "succeeded",
        Effect::Undone(_) => "compensated",
        Effect::Unknown => "failed",
        Effect::None if records.failed(Operation::Action) => "failed",
        Effect::None => "pending",
    }
}

/// Attempts of the step's call in progress, from the state.
fn attempts_now(index: usize, state: &SagaState) -> u32 {
    match state.pending() {
        Some((step, _, progress)) if step == index => progress.attempt,
        _ => 0,
    }
}

/// The log records of one step (its action's and its compensation's).
struct StepRecords<'a> {
    records: Vec<(&'a LogEntry, Operation)>,
}

impl<'a> StepRecords<'a> {
    fn of(step: &StepDef, log: &'a [LogEntry]) -> Self {
        let undo = step.compensation_log_name();
        let records = log
            .iter()
            .filter_map(|entry| {
                let operation = entry.record.operation?;
                let name = &entry.record.step;
                let ours = match operation {
                    Operation::Action => *name == step.name,
                    Operation::Compensation => undo.as_ref() == Some(name),
                };
                ours.then_some((entry, operation))
            })
            .collect();
        Self { records }
    }

    fn attempts(&self, operation: Operation) -> u32 {
        self.records
            .iter()
            .filter(|(_, op)| *op == operation)
            .map(|(entry, _)| entry.record.attempt)
            .max()
            .unwrap_or(0)
    }

    fn failed(&self, operation: Operation) -> bool {
        self.records
            .iter()
            .any(|(entry, op)| *op == operation && entry.record.outcome == Outcome::Failed)
    }

    fn last_error(&self) -> Option<String> {
        self.records
            .iter()
            .rev()
            .find(|(entry, _)| {
                matches!(
                    entry.record.outcome,
                    Outcome::Failed | Outcome::RetryScheduled
                )
            })
            .map(|(entry, _)| entry.record.detail.clone())
    }
}
