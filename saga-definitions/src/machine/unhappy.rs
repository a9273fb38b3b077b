//! The unhappy half of `transition`: a failed call is retried, parked or given up on,
//! and giving up goes back through the compensations that may be owed, in reverse.

use super::state::{Effect, Position, Progress, RefusedCall, SagaState};
use super::transition::{
    Context, DEADLINE_PASSED, Event, Failure, InvalidTransition, LogRecord, Operation, Outcome,
    RESUMED, Transition, invalid, record, saga_record, to,
};
use crate::model::Kind;

/// The current call failed: retry it (after a backoff), or give up.
pub(super) fn failed(
    state: &SagaState,
    event: &Event,
    failure: Failure,
    detail: &str,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    let (step, operation, progress) = state
        .pending()
        .filter(|(_, _, p)| p.in_flight)
        .ok_or_else(|| invalid(state, event))?;
    let name = ctx.log_name(step, operation);
    let maybe_applied = progress.maybe_applied || failure == Failure::Transient;
    let may_stop = stops_retrying(ctx, step, operation);
    let cause = if failure == Failure::Permanent {
        Some(format!("{name} refused: {detail}"))
    } else if may_stop && ctx.past_deadline() {
        Some(format!("{DEADLINE_PASSED} during {name}: {detail}"))
    } else if may_stop && out_of_retries(ctx, step, &progress) {
        Some(format!(
            "{name} gave up after {} attempts: {detail}",
            progress.attempt
        ))
    } else {
        None
    };
    if let Some(cause) = cause {
        let given_up = GivenUp {
            step,
            operation,
            attempt: progress.attempt,
            maybe_applied,
        };
        return Ok(give_up(state, given_up, detail, cause, ctx));
    }
    let parked = !may_stop && progress.attempt >= ctx.policy.park_after_attempts;
    let waiting = state.with_progress(Progress {
        in_flight: false,
        maybe_applied,
        parked,
        retry_at_ms: Some(ctx.now_ms.saturating_add(retry_delay_ms(
            ctx,
            step,
            progress.attempt,
            parked,
        ))),
        ..progress
    });
    let detail = match parked {
        true => format!("parked: {detail}"),
        false => detail.to_string(),
    };
    let log = vec![record(
        ctx,
        step,
        operation,
        Outcome::RetryScheduled,
        progress.attempt,
        &detail,
    )];
    Ok(to(waiting, log))
}

/// The backoff passed: start the next attempt, unless the saga's deadline passed while
/// it waited, in which case a step that may give up does.
pub(super) fn retry_due(
    state: &SagaState,
    event: &Event,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    match state.pending() {
        Some((step, operation, progress))
            if !progress.in_flight
                && stops_retrying(ctx, step, operation)
                && ctx.past_deadline() =>
        {
            let cause = format!("{DEADLINE_PASSED} during {}", ctx.log_name(step, operation));
            let given_up = GivenUp {
                step,
                operation,
                attempt: progress.attempt,
                maybe_applied: progress.maybe_applied,
            };
            Ok(give_up(state, given_up, DEADLINE_PASSED, cause, ctx))
        }
        _ => restart_call(state, event, false, "", ctx),
    }
}

/// After a restart (or a takeover): a call waiting for its retry keeps waiting until its
/// time, and nothing is written; a call that was out (its outcome unknown), or a wait
/// stored without a time, is sent again now.
pub(super) fn resumed(
    state: &SagaState,
    event: &Event,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    match state.pending() {
        Some((_, _, progress)) if !progress.in_flight && progress.retry_at_ms.is_some() => {
            Ok(to(state.clone(), Vec::new()))
        }
        _ => restart_call(state, event, true, RESUMED, ctx),
    }
}

/// Starts the next attempt of the current call: after a backoff (`resumed` false: only
/// while waiting) or after a restart (`resumed` true: in any unfinished state, since the
/// last call's outcome is unknown).
pub(super) fn restart_call(
    state: &SagaState,
    event: &Event,
    resumed: bool,
    detail: &str,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    let (step, operation, progress) = state
        .pending()
        .filter(|(_, _, p)| resumed || !p.in_flight)
        .ok_or_else(|| invalid(state, event))?;
    let attempt = progress.attempt + 1;
    let next = state.with_progress(Progress {
        attempt,
        in_flight: true,
        // A call cut off by a restart may have taken effect.
        maybe_applied: progress.maybe_applied || progress.in_flight,
        retry_at_ms: None,
        ..progress
    });
    let log = vec![record(
        ctx,
        step,
        operation,
        Outcome::Started,
        attempt,
        detail,
    )];
    Ok(to(next, log))
}

/// Goes back from the steps below `below`: the compensation of the highest one whose
/// action may have taken effect, or the end (COMPENSATED), logged as `end` says.
pub(super) fn roll_back(
    mut next: SagaState,
    below: usize,
    mut log: Vec<LogRecord>,
    end: End,
    ctx: &Context,
) -> Transition {
    let undo = (0..below)
        .rev()
        .find(|&j| next.effects[j].to_undo() && ctx.definition.steps[j].compensation.is_some());
    match undo {
        Some(step) => {
            next.position = Position::Backward {
                step,
                progress: Progress::first(ctx.now_ms),
            };
            log.push(record(
                ctx,
                step,
                Operation::Compensation,
                Outcome::Started,
                1,
                "",
            ));
        }
        None => {
            next.position = Position::Compensated;
            let cause = next.cause.clone().unwrap_or_default();
            let detail = match end {
                End::AfterCompensations => format!("saga compensated: {cause}"),
                End::NothingToUndo => cause,
            };
            log.push(saga_record(Outcome::Failed, &detail));
        }
    }
    to(next, log)
}

/// How a saga that goes back says it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// Its last compensation succeeded.
    AfterCompensations,
    /// It gave up, and there was nothing (more) to undo.
    NothingToUndo,
}

/// The call that failed for good.
pub(super) struct GivenUp {
    pub step: usize,
    pub operation: Operation,
    pub attempt: u32,
    pub maybe_applied: bool,
}

/// The current call failed for good: an action that may give up starts the way back
/// (itself included when it may have taken effect); anything else fails the saga.
pub(super) fn give_up(
    state: &SagaState,
    call: GivenUp,
    detail: &str,
    cause: String,
    ctx: &Context,
) -> Transition {
    let failed = record(
        ctx,
        call.step,
        call.operation,
        Outcome::Failed,
        call.attempt,
        detail,
    );
    let mut next = state.clone();
    if gives_up(ctx, call.step, call.operation) {
        if call.maybe_applied {
            next.effects[call.step] = Effect::Unknown;
        }
        next.cause = Some(cause);
        return roll_back(next, call.step + 1, vec![failed], End::NothingToUndo, ctx);
    }
    next.position = Position::Failed {
        refused: Some(RefusedCall {
            step: call.step,
            operation: call.operation,
        }),
    };
    let ended = saga_record(Outcome::Failed, &cause);
    next.cause = Some(cause);
    to(next, vec![failed, ended])
}

/// Whether a call that failed for good rolls the saga back: an action before the point
/// of no return (a compensatable step or the pivot); anything else fails the saga.
fn gives_up(ctx: &Context, step: usize, operation: Operation) -> bool {
    operation == Operation::Action && ctx.definition.steps[step].kind != Kind::Retriable
}

/// Whether a call may stop retrying (out of attempts or time, or past the deadline):
/// only a compensatable step's action. The pivot is retried until it succeeds or is
/// refused, since a pivot that may have taken effect cannot be undone; retriable steps
/// and compensations never stop.
fn stops_retrying(ctx: &Context, step: usize, operation: Operation) -> bool {
    operation == Operation::Action && ctx.definition.steps[step].kind == Kind::Compensatable
}

/// The wait before the retry of `step`'s call after failed attempt `attempt`.
fn retry_delay_ms(ctx: &Context, step: usize, attempt: u32, parked: bool) -> i64 {
    let backoff = ctx
        .policy
        .backoff
        .for_step(&ctx.definition.steps[step].retry);
    let delay = match parked {
        true => backoff.parked_delay_ms(ctx.jitter),
        false => backoff.delay_ms(attempt, ctx.jitter),
    };
    i64::try_from(delay).unwrap_or(i64::MAX)
}

fn out_of_retries(ctx: &Context, step: usize, progress: &Progress) -> bool {
    let retry = ctx.definition.steps[step].retry;
    let max_attempts = retry.max_attempts.unwrap_or(ctx.policy.max_attempts);
    let time_limit = retry
        .step_time_limit_ms
        .map_or(ctx.policy.step_time_limit_ms, i64::from);
    progress.attempt >= max_attempts || ctx.now_ms - progress.started_ms >= time_limit
}
