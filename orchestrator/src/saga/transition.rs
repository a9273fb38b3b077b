//! `transition(state, event) -> new state + log records + next command`: the whole of
//! the saga's decisions.

use super::command::{Call, Command};
use super::event::{Event, Failure};
use super::log::{LogRecord, Outcome, Step};
use super::state::{Progress, SagaState};

/// Limits on the forward steps that may give up (creating the order and the invoice).
/// The confirmation and the compensations are retried until they succeed or are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_attempts: u32,
    pub step_time_limit_ms: i64,
}

/// What a transition may read besides the state and the event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now_ms: i64,
    pub policy: &'a Policy,
}

/// The outcome of one transition: to be committed (state and log together) before the
/// command is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub state: SagaState,
    pub log: Vec<LogRecord>,
    pub command: Option<Command>,
}

/// The event cannot happen in this state (a bug or a stale event); nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event} is not legal in state {state}")]
pub struct InvalidTransition {
    pub state: &'static str,
    pub event: &'static str,
}

/// A new saga: accepted, and its first call started.
pub fn start(now_ms: i64) -> Transition {
    to(
        SagaState::CreatingOrder {
            progress: Progress::first(now_ms),
        },
        vec![
            record(Step::Saga, Outcome::Started, 0, "saga accepted"),
            record(Step::CreateOrder, Outcome::Started, 1, ""),
        ],
    )
}

/// Decides what `event` does to a saga in `state`.
pub fn transition(
    state: &SagaState,
    event: &Event,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    use Event as E;
    use SagaState as S;
    let now = ctx.now_ms;
    match (state, event) {
        (S::CreatingOrder { progress }, E::OrderCreated { order_id }) if progress.in_flight => {
            let next = S::CreatingInvoice {
                order_id: order_id.clone(),
                progress: Progress::first(now),
            };
            Ok(advance(Step::CreateOrder, progress, next))
        }
        (S::CreatingInvoice { order_id, progress }, E::InvoiceIssued { invoice_id })
            if progress.in_flight =>
        {
            let next = S::ConfirmingOrder {
                order_id: order_id.clone(),
                invoice_id: invoice_id.clone(),
                progress: Progress::first(now),
            };
            Ok(advance(Step::CreateInvoice, progress, next))
        }
        (
            S::ConfirmingOrder {
                order_id,
                invoice_id,
                progress,
            },
            E::OrderConfirmed,
        ) if progress.in_flight => {
            let done = S::Completed {
                order_id: order_id.clone(),
                invoice_id: invoice_id.clone(),
            };
            Ok(end(Step::ConfirmOrder, progress, done, "saga completed"))
        }
        (
            S::VoidingInvoice {
                order_id,
                invoice_id,
                progress,
                cause,
            },
            E::InvoiceVoided,
        ) if progress.in_flight => {
            let next = S::CancellingOrder {
                order_id: Some(order_id.clone()),
                invoice_id: invoice_id.clone(),
                progress: Progress::first(now),
                cause: cause.clone(),
            };
            Ok(advance(Step::VoidInvoice, progress, next))
        }
        (
            S::CancellingOrder {
                order_id,
                invoice_id,
                progress,
                cause,
            },
            E::OrderCancelled,
        ) if progress.in_flight => {
            let done = S::Compensated {
                order_id: order_id.clone(),
                invoice_id: invoice_id.clone(),
                cause: cause.clone(),
            };
            Ok(end(Step::CancelOrder, progress, done, "saga compensated"))
        }
        (_, E::CallFailed { failure, detail }) => failed(state, event, *failure, detail, ctx),
        (_, E::RetryDue) => restart_call(state, event, false, ""),
        (_, E::Resumed) => restart_call(state, event, true, "resumed after restart"),
        _ => Err(invalid(state, event)),
    }
}

/// Step `done` succeeded and `next` starts the following one (in the same commit).
fn advance(done: Step, progress: &Progress, next: SagaState) -> Transition {
    let mut log = vec![record(done, Outcome::Succeeded, progress.attempt, "")];
    if let Some((call, _)) = next.pending() {
        log.push(record(call.step(), Outcome::Started, 1, ""));
    }
    to(next, log)
}

/// The current step succeeded and the saga ended in `done`.
fn end(step: Step, done_progress: &Progress, done: SagaState, detail: &str) -> Transition {
    let outcome = match done {
        SagaState::Completed { .. } => Outcome::Succeeded,
        _ => Outcome::Failed,
    };
    let detail = match done.cause() {
        Some(cause) => format!("{detail}: {cause}"),
        None => detail.to_string(),
    };
    to(
        done,
        vec![
            record(step, Outcome::Succeeded, done_progress.attempt, ""),
            record(Step::Saga, outcome, 0, &detail),
        ],
    )
}

/// The current call failed: retry it, or give up and roll back (or fail the saga).
fn failed(
    state: &SagaState,
    event: &Event,
    failure: Failure,
    detail: &str,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    let (call, progress) = in_flight_call(state).ok_or_else(|| invalid(state, event))?;
    let step = call.step();
    let maybe_applied = progress.maybe_applied || failure == Failure::Transient;
    if failure == Failure::Transient && may_retry(step, &progress, ctx) {
        let waiting = state.with_progress(Progress {
            in_flight: false,
            maybe_applied,
            ..progress
        });
        let log = vec![record(
            step,
            Outcome::RetryScheduled,
            progress.attempt,
            detail,
        )];
        return Ok(to(waiting, log));
    }
    let cause = match failure {
        Failure::Transient => format!(
            "{} gave up after {} attempts: {detail}",
            step.as_str(),
            progress.attempt
        ),
        Failure::Permanent => format!("{} refused: {detail}", step.as_str()),
    };
    let next = give_up(state, maybe_applied, cause, ctx.now_ms);
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
    Ok(to(next, log))
}

/// Whether a transient failure of `step` is retried.
fn may_retry(step: Step, progress: &Progress, ctx: &Context) -> bool {
    match step {
        Step::CreateOrder | Step::CreateInvoice => {
            progress.attempt < ctx.policy.max_attempts
                && ctx.now_ms - progress.started_ms < ctx.policy.step_time_limit_ms
        }
        Step::ConfirmOrder | Step::VoidInvoice | Step::CancelOrder | Step::Saga => true,
    }
}

/// Where a saga goes when its current step fails for good: compensate every step that
/// may have taken effect, in reverse order, or end FAILED when a compensation (or the
/// confirmation, which is never compensated) is refused.
fn give_up(state: &SagaState, maybe_applied: bool, cause: String, now: i64) -> SagaState {
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

/// Starts the next attempt of the current step: after a backoff (`resumed` false: only
/// legal while waiting) or after a restart (`resumed` true: legal in any unfinished
/// state, since the last call's outcome is unknown).
fn restart_call(
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

fn in_flight_call(state: &SagaState) -> Option<(Call, Progress)> {
    state.pending().filter(|(_, p)| p.in_flight)
}

/// Builds the transition to `state`; the command follows from it: send the step's call
/// while one is due, wait while a retry is pending, nothing once the saga ended.
fn to(state: SagaState, records: Vec<LogRecord>) -> Transition {
    let status = state.status();
    let log = records
        .into_iter()
        .map(|r| LogRecord { status, ..r })
        .collect();
    let command = state.pending().map(|(call, p)| match p.in_flight {
        true => Command::Send {
            call,
            attempt: p.attempt,
        },
        false => Command::Backoff { attempt: p.attempt },
    });
    Transition {
        state,
        log,
        command,
    }
}

fn record(step: Step, outcome: Outcome, attempt: u32, detail: &str) -> LogRecord {
    LogRecord {
        step,
        outcome,
        attempt,
        detail: detail.to_string(),
        status: super::SagaStatus::Running,
    }
}

fn invalid(state: &SagaState, event: &Event) -> InvalidTransition {
    InvalidTransition {
        state: state.name(),
        event: event.name(),
    }
}
