//! Every call of a step, read back from the saga log: each `STARTED` record opens one,
//! and the step's next record of the same operation closes it (succeeded, retrying,
//! parked, failed) or, when it is another `STARTED`, shows it interrupted. An operator's
//! skip is an entry of its own (outcome `skipped`, its start its end), after the call it
//! cut off, if any.

use saga_contracts::saga::v1 as pb;
use saga_definitions::machine::{Operation, Outcome};

use super::convert::timestamp;
use crate::store::LogEntry;

/// What a retried record's detail begins with when the step was parked.
const PARKED: &str = "parked: ";

/// The calls of one step, from its log records (in seq order, with their operation).
pub fn calls(records: &[(&LogEntry, Operation)], ended: bool) -> Vec<pb::StepAttempt> {
    let mut calls: Vec<pb::StepAttempt> = Vec::new();
    let mut open: Option<usize> = None;
    for (entry, operation) in records {
        let r = &entry.record;
        if matches!(r.outcome, Outcome::Started | Outcome::Skipped) {
            if let Some(at) = open.take() {
                close(&mut calls[at], entry.at_ms, "interrupted", "");
            }
            let mut call = pb::StepAttempt {
                phase: phase(*operation).into(),
                attempt: r.attempt,
                started_at: Some(timestamp(entry.at_ms)),
                outcome: "in_flight".to_string(),
                ..Default::default()
            };
            match r.outcome {
                Outcome::Skipped => close(&mut call, entry.at_ms, "skipped", ""),
                _ => open = Some(calls.len()),
            }
            calls.push(call);
            continue;
        }
        let (outcome, error) = match r.outcome {
            Outcome::Succeeded => ("succeeded", ""),
            Outcome::Failed => ("failed", r.detail.as_str()),
            Outcome::RetryScheduled => match r.detail.strip_prefix(PARKED) {
                Some(error) => ("parked", error),
                None => ("retrying", r.detail.as_str()),
            },
            Outcome::Started
            | Outcome::Skipped
            | Outcome::Claimed
            | Outcome::Retried
            | Outcome::Aborted
            | Outcome::Resolved => continue,
        };
        if let Some(at) = open.take() {
            close(&mut calls[at], entry.at_ms, outcome, error);
        }
    }
    if let (Some(at), true) = (open, ended) {
        calls[at].outcome = "interrupted".to_string();
    }
    calls
}

fn close(call: &mut pb::StepAttempt, at_ms: i64, outcome: &str, error: &str) {
    call.ended_at = Some(timestamp(at_ms));
    call.outcome = outcome.to_string();
    call.code = code_of(error);
    call.error = error.to_string();
}

fn phase(operation: Operation) -> pb::StepPhase {
    match operation {
        Operation::Action => pb::StepPhase::Action,
        Operation::Compensation => pb::StepPhase::Compensation,
    }
}

/// The gRPC code a failure's text begins with (`Unavailable: …`), if it names one.
fn code_of(error: &str) -> String {
    let name = error.split(':').next().unwrap_or_default().trim();
    (1..=16)
        .map(|n| format!("{:?}", tonic::Code::from_i32(n)))
        .find(|known| known == name)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
