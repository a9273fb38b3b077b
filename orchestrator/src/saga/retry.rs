//! The unhappy half of `transition`: a failed call is retried, parked, or given up on,
//! and giving up starts the compensations that may be owed.

use super::command::Call;
use super::event::{Event, Failure};
use super::log::{Outcome, Step};
use super::state::{Progress, SagaState};
use super::transition::{
    Context, DEADLINE_PASSED, InvalidTransition, Transition, invalid, record, to,
};

/// The current call failed: retry it (after a backoff), or give up.
pub(super) fn failed(
    state: &SagaState,
    event: &Event,
    failure: Failure,
    detail: &str,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    let (call, progress) = in_flight_call(state).ok_or_else(|| invalid(state, event))?;
    let step = call.step();
    let maybe_applied = progress.maybe_applied || failure == Failure::Transient;
    if failure == Failure::Permanent {
        let cause = format!("{} refused: {detail}", step.as_str());
        return Ok(give_up(state, &progress, maybe_applied, detail, cause, ctx));
    }
    if gives_up(step) && ctx.past_deadline() {
        let cause = format!("{DEADLINE_PASSED} during {}: {detail}", step.as_str());
        return Ok(give_up(state, &progress, maybe_applied, detail, cause, ctx));
    }
    if gives_up(step) && out_of_retries(&progress, ctx) {
        let cause = format!(
            "{} gave up after {} attempts: {detail}",
            step.as_str(),
            progress.attempt
        );
        return Ok(give_up(state, &progress, maybe_applied, detail, cause, ctx));
    }
    let parked = !gives_up(step) && progress.attempt >= ctx.policy.park_after_attempts;
    let waiting = state.with_progress(Progress {
        in_flight: false,
        maybe_applied,
        parked,
        ..progress
    });
    let detail = match parked {
        true => format!("parked: {detail}"),
        false => detail.to_string(),
    };
    let log = vec![record(
        step,
        Outcome::RetryScheduled,
        progress.attempt,
        &detail,
    )];
    Ok(to(waiting, log))
}

/// The backoff passed: start the next attempt, unless the saga's deadline passed while
/// it waited, in which case a forward step gives up.
pub(super) fn retry_due(
    state: &SagaState,
    event: &Event,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    match state.pending() {
        Some((call, progress))
            if !progress.in_flight && gives_up(call.step()) && ctx.past_deadline() =>
        {
            let detail = DEADLINE_PASSED;
            let cause = format!("{DEADLINE_PASSED} during {}", call.step().as_str());
            Ok(give_up(
                state,
                &progress,
                progress.maybe_applied,
                detail,
                cause,
                ctx,
            ))
        }
        _ => restart_call(state, event, false, ""),
    }
}

/// Starts the next attempt of the current step: after a backoff (`resumed` false: only
/// legal while waiting) or after a restart (`resumed` true: legal in any unfinished
/// state, since the last call's outcome is unknown).
pub(super) fn restart_call(
    state: &SagaState,
    event: &Event,
    resumed: bool,
    detail: &str,
) -> Result<Transition, InvalidTransition> {
    let (call, progress) = state
        .pending()
        .filter(|(_, p)| resumed || !p.in_flight)
        .ok_or_else(|| invalid(state, event))?;
    let attempt = progress.attempt + 1;
    let next = state.with_progress(Progress {
        attempt,
        in_flight: true,
        // A call cut off by a restart may have taken effect.
        maybe_applied: progress.maybe_applied || progress.in_flight,
        ..progress
    });
    let log = vec![record(call.step(), Outcome::Started, attempt, detail)];
    Ok(to(next, log))
}

/// Whether `step` may give up (and compensate) rather than retry for ever.
fn gives_up(step: Step) -> bool {
    match step {
        Step::CreateOrder | Step::CreateInvoice => true,
        Step::ConfirmOrder | Step::VoidInvoice | Step::CancelOrder | Step::Saga => false,
    }
}

fn out_of_retries(progress: &Progress, ctx: &Context) -> bool {
    progress.attempt >= ctx.policy.max_attempts
        || ctx.now_ms - progress.started_ms >= ctx.policy.step_time_limit_ms
}

/// The current step failed for good: record it and move on to what that means.
fn give_up(
    state: &SagaState,
    progress: &Progress,
    maybe_applied: bool,
    detail: &str,
    cause: String,
    ctx: &Context,
) -> Transition {
    let step = state.pending().map_or(Step::Saga, |(call, _)| call.step());
    let next = rollback(state, maybe_applied, cause, ctx.now_ms);
    let mut log = vec![record(step, Outcome::Failed, progress.attempt, detail)];
    match next.pending() {
        Some((call, _)) => log.push(record(call.step(), Outcome::Started, 1, "")),
        None => log.push(record(
            Step::Saga,
            Outcome::Failed,
            0,
            next.cause().unwrap_or(""),
        )),
    }
    to(next, log)
}

/// Where a saga goes when its current step fails for good: compensate every step that
/// may have taken effect, in reverse order, or end FAILED when a compensation (or the
/// confirmation, which is never compensated) is refused.
fn rollback(state: &SagaState, maybe_applied: bool, cause: String, now: i64) -> SagaState {
    use SagaState as S;
    match state {
        S::CreatingOrder { .. } if maybe_applied => S::CancellingOrder {
            order_id: None,
            invoice_id: None,
            progress: Progress::first(now),
            cause,
        },
        S::CreatingOrder { .. } => S::Compensated {
            order_id: None,
            invoice_id: None,
            cause,
        },
        S::CreatingInvoice { order_id, .. } if maybe_applied => S::VoidingInvoice {
            order_id: order_id.clone(),
            invoice_id: None,
            progress: Progress::first(now),
            cause,
        },
        S::CreatingInvoice { order_id, .. } => S::CancellingOrder {
            order_id: Some(order_id.clone()),
            invoice_id: None,
            progress: Progress::first(now),
            cause,
        },
        S::ConfirmingOrder { .. }
        | S::VoidingInvoice { .. }
        | S::CancellingOrder { .. }
        | S::Completed { .. }
        | S::Compensated { .. }
        | S::Failed { .. } => S::Failed {
            order_id: state.order_id().map(str::to_string),
            invoice_id: state.invoice_id().map(str::to_string),
            cause,
        },
    }
}

fn in_flight_call(state: &SagaState) -> Option<(Call, Progress)> {
    state.pending().filter(|(_, p)| p.in_flight)
}
