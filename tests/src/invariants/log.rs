//! Whether one saga's durable log is well formed: gapless sequence numbers, an outcome
//! (or a recorded recovery) for every started attempt, steps in a legal order, with
//! compensations in reverse order of the actions and only for actions that were started,
//! and one writer at a time (see `fencing`).

use saga_contracts::saga::v1::{Saga, SagaLogEntry, SagaStatus, StepOutcome, StepPhase};

use super::claims::claim_violations;
use super::fencing::{ownership_violations, stale_write_violations};
use super::shape::{Kind, SagaShape};

/// Step name of the records about the saga as a whole.
pub const SAGA: &str = "saga";
/// The detail of a STARTED record that re-issues a call after an orchestrator restart
/// (`saga_definitions::machine::RESUMED`): the recorded recovery of an attempt cut off.
pub const RESUMED: &str = "resumed after restart";

/// Every way `saga`'s log is malformed for a saga of `shape`, as sentences (empty: well
/// formed).
pub fn log_violations(saga: &Saga, shape: &SagaShape) -> Vec<String> {
    let mut found = Vec::new();
    let id = &saga.saga_id;
    let mut log: Vec<&SagaLogEntry> = saga.log.iter().collect();
    log.sort_by_key(|e| e.seq);
    let seqs: Vec<u32> = log.iter().map(|e| e.seq).collect();
    let expected: Vec<u32> = (1..=u32::try_from(seqs.len()).unwrap_or(u32::MAX)).collect();
    if seqs != expected {
        found.push(format!(
            "saga {id} log seqs are {seqs:?}, expected 1..={}",
            seqs.len()
        ));
    }
    let (Some(first), Some(last)) = (log.first(), log.last()) else {
        found.push(format!("saga {id} has an empty log"));
        return found;
    };
    if (first.step.as_str(), first.outcome()) != (SAGA, StepOutcome::Started) {
        found.push(format!(
            "saga {id} log begins with {} {}, not the saga's acceptance",
            first.step,
            first.outcome().as_str_name()
        ));
    }
    if last.status != saga.status {
        found.push(format!(
            "saga {id} is {} but its last log record says {}",
            saga.status().as_str_name(),
            last.status().as_str_name()
        ));
    }
    check_saga_records(saga, &log, &mut found);
    let steps = step_histories(id, shape, &log, &mut found);
    if is_terminal(saga.status()) {
        for step in steps.iter().filter(|s| s.ended.is_none()) {
            found.push(format!(
                "saga {id} ended but {} attempt {} has no outcome",
                step.name, step.attempt
            ));
        }
    }
    check_order(saga, shape, &steps, &mut found);
    found.extend(ownership_violations(saga));
    found.extend(stale_write_violations(saga));
    found.extend(claim_violations(saga));
    found
}

fn is_terminal(status: SagaStatus) -> bool {
    matches!(
        status,
        SagaStatus::Completed | SagaStatus::Compensated | SagaStatus::Failed
    )
}

/// One saga-level acceptance first, one saga-level outcome last, matching the status.
fn check_saga_records(saga: &Saga, log: &[&SagaLogEntry], found: &mut Vec<String>) {
    let id = &saga.saga_id;
    let saga_records: Vec<(usize, StepOutcome)> = log
        .iter()
        .enumerate()
        .filter(|(_, e)| e.step == SAGA && e.outcome() != StepOutcome::Claimed)
        .map(|(i, e)| (i, e.outcome()))
        .collect();
    let expected_end = match saga.status() {
        SagaStatus::Completed => Some(StepOutcome::Succeeded),
        SagaStatus::Compensated | SagaStatus::Failed => Some(StepOutcome::Failed),
        _ => None,
    };
    let mut expected = vec![(0, StepOutcome::Started)];
    if let Some(outcome) = expected_end {
        expected.push((log.len() - 1, outcome));
    }
    if saga_records != expected {
        found.push(format!(
            "saga {id} ({}) has saga records (index, outcome) {:?}, expected {:?}",
            saga.status().as_str_name(),
            named(&saga_records),
            named(&expected)
        ));
    }
}

fn named(records: &[(usize, StepOutcome)]) -> Vec<(usize, &'static str)> {
    records.iter().map(|(i, o)| (*i, o.as_str_name())).collect()
}

/// What the log says about one step, in the order the steps first appear.
#[derive(Debug)]
struct StepHistory<'a> {
    name: &'a str,
    /// The current attempt (the last STARTED one).
    attempt: u32,
    in_flight: bool,
    /// SUCCEEDED or FAILED, once the step has ended.
    ended: Option<StepOutcome>,
    /// A transient failure or a cut-off attempt: the call may have taken effect.
    maybe_applied: bool,
}

/// Replays each step's records: attempts count up from 1, each STARTED is followed by
/// its outcome or by a resumed STARTED, a RETRY_SCHEDULED by the next STARTED (or by a
/// FAILED when the saga's deadline passed while waiting), and nothing follows an end.
/// Also checks that the records of different steps do not interleave.
fn step_histories<'a>(
    id: &str,
    shape: &SagaShape,
    log: &[&'a SagaLogEntry],
    found: &mut Vec<String>,
) -> Vec<StepHistory<'a>> {
    let mut steps: Vec<StepHistory<'a>> = Vec::new();
    for entry in log.iter().filter(|e| e.step != SAGA) {
        let name = entry.step.as_str();
        check_phase(id, shape, entry, found);
        let is_current = steps.last().is_some_and(|s| s.name == name);
        if !is_current {
            if steps.iter().any(|s| s.name == name) {
                found.push(format!(
                    "saga {id} record {}: {name} resumes after another step ran",
                    entry.seq
                ));
                continue;
            }
            steps.push(StepHistory {
                name,
                attempt: 0,
                in_flight: false,
                ended: None,
                maybe_applied: false,
            });
        }
        if let Some(step) = steps.last_mut() {
            replay(id, step, entry, found);
        }
    }
    steps
}

fn replay(id: &str, step: &mut StepHistory, entry: &SagaLogEntry, found: &mut Vec<String>) {
    let (attempt, outcome) = (entry.attempt, entry.outcome());
    let mut bad = |why: &str| {
        found.push(format!(
            "saga {id} record {}: {} {} attempt {attempt} {why}",
            entry.seq,
            step.name,
            outcome.as_str_name()
        ))
    };
    if step.ended.is_some() {
        bad("follows the step's end");
        return;
    }
    match outcome {
        StepOutcome::Started => {
            if step.in_flight && entry.detail != RESUMED {
                bad("follows a STARTED attempt without its outcome or a recorded recovery");
            }
            if attempt != step.attempt + 1 {
                bad(&format!("should be attempt {}", step.attempt + 1));
            }
            step.maybe_applied |= step.in_flight;
            step.in_flight = true;
            step.attempt = attempt;
        }
        StepOutcome::RetryScheduled | StepOutcome::Succeeded | StepOutcome::Failed => {
            let waiting_gave_up = outcome == StepOutcome::Failed && step.attempt > 0;
            if !step.in_flight && !waiting_gave_up {
                bad("has no STARTED attempt before it");
            }
            if attempt != step.attempt {
                bad(&format!("should be attempt {}", step.attempt));
            }
            step.in_flight = false;
            match outcome {
                StepOutcome::RetryScheduled => step.maybe_applied = true,
                _ => step.ended = Some(outcome),
            }
        }
        StepOutcome::Claimed => bad("is a claim about a step, not the saga"),
        // The chaos campaigns have no operator: none of theirs should appear.
        StepOutcome::Retried
        | StepOutcome::Aborted
        | StepOutcome::Resolved
        | StepOutcome::Skipped => bad("is an operator's action in a campaign without one"),
        StepOutcome::Unspecified => bad("has no outcome"),
    }
}

fn check_phase(id: &str, shape: &SagaShape, entry: &SagaLogEntry, found: &mut Vec<String>) {
    let expected = if shape.action_index(&entry.step).is_some() {
        StepPhase::Action
    } else if shape.compensation_index(&entry.step).is_some() {
        StepPhase::Compensation
    } else {
        found.push(format!(
            "saga {id} record {} is about unknown step {:?}",
            entry.seq, entry.step
        ));
        return;
    };
    if entry.phase() != expected {
        found.push(format!(
            "saga {id} record {}: {} has phase {}",
            entry.seq,
            entry.step,
            entry.phase().as_str_name()
        ));
    }
}

/// Actions in the definition's order, each only after the previous one succeeded; then
/// compensations, each of a compensatable step whose action started, in reverse order of
/// the steps, never once a retriable step started or the pivot succeeded; and, for a saga
/// that ended, exactly the steps its status needs.
fn check_order(saga: &Saga, shape: &SagaShape, steps: &[StepHistory], found: &mut Vec<String>) {
    let id = &saga.saga_id;
    let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
    let split = steps
        .iter()
        .position(|s| shape.action_index(s.name).is_none())
        .unwrap_or(steps.len());
    let (actions, compensations) = steps.split_at(split);
    let in_order = actions
        .iter()
        .enumerate()
        .all(|(i, s)| shape.action_index(s.name) == Some(i));
    let undone: Option<Vec<usize>> = compensations
        .iter()
        .map(|s| shape.compensation_index(s.name))
        .collect();
    let reversed = undone
        .as_ref()
        .is_some_and(|u| u.windows(2).all(|w| w[0] > w[1]));
    if !in_order || !reversed {
        found.push(format!("saga {id} runs its steps in the order {names:?}"));
        return;
    }
    let unfinished = |s: &&StepHistory| s.ended != Some(StepOutcome::Succeeded);
    for (before, after) in steps.iter().zip(steps.iter().skip(1)) {
        if unfinished(&before) && shape.action_index(after.name).is_some() {
            found.push(format!(
                "saga {id} started {} although {} did not succeed",
                after.name, before.name
            ));
        }
        if unfinished(&before) && shape.compensation_index(before.name).is_some() {
            found.push(format!(
                "saga {id} ran {} although compensation {} did not succeed",
                after.name, before.name
            ));
        }
    }
    let started = |name: &str| steps.iter().find(|s| s.name == name);
    for step in &shape.steps {
        let action = started(&step.action);
        let past_return = match step.kind {
            Kind::Retriable => action.is_some(),
            Kind::Pivot => action.is_some_and(|s| s.ended == Some(StepOutcome::Succeeded)),
            Kind::Compensatable => false,
        };
        if past_return && !compensations.is_empty() {
            let past = match step.kind {
                Kind::Retriable => "starting",
                _ => "the success of",
            };
            found.push(format!(
                "saga {id} compensated after {past} {}: {names:?}",
                step.action
            ));
        }
        let Some(compensation) = &step.compensation else {
            continue;
        };
        let ran = started(compensation);
        if ran.is_some() && action.is_none() {
            found.push(format!(
                "saga {id} ran {compensation} although {} never started",
                step.action
            ));
        }
        let owed =
            action.is_some_and(|s| s.maybe_applied || s.ended == Some(StepOutcome::Succeeded));
        let undone = ran.is_some_and(|s| s.ended == Some(StepOutcome::Succeeded));
        if saga.status() == SagaStatus::Compensated && owed && !undone {
            found.push(format!(
                "COMPENSATED saga {id} may have applied {} but did not {compensation}",
                step.action
            ));
        }
    }
    let all_succeeded =
        actions.len() == shape.steps.len() && actions.iter().all(|s| !unfinished(&s));
    if saga.status() == SagaStatus::Completed && !(all_succeeded && compensations.is_empty()) {
        found.push(format!(
            "COMPLETED saga {id} did not run exactly its {} actions to success: {names:?}",
            shape.steps.len()
        ));
    }
}

#[cfg(test)]
mod tests;
