//! `transition(state, event) -> new state + log records + next command`: the whole of
//! the saga's decisions.

use super::command::Command;
use super::event::Event;
use super::log::{LogRecord, Outcome, Step};
use super::retry;
use super::state::{Progress, SagaState};

/// Limits on retries and on the saga's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts of a forward step that may give up (creating the order, the invoice).
    pub max_attempts: u32,
    /// Time such a step may keep retrying.
    pub step_time_limit_ms: i64,
    /// A saga that has not reached its confirmation by then compensates.
    pub saga_timeout_ms: Option<i64>,
    /// Steps that never give up (the confirmation, the compensations) are parked after
    /// this many attempts: retried at a slow pace and flagged for an operator.
    pub park_after_attempts: u32,
}

/// What a transition may read besides the state and the event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now_ms: i64,
    /// When the saga was accepted; its deadline counts from here.
    pub saga_started_ms: i64,
    pub policy: &'a Policy,
}

impl Context<'_> {
    /// Whether the saga's deadline has passed.
    pub fn past_deadline(&self) -> bool {
        self.policy
            .saga_timeout_ms
            .is_some_and(|timeout| self.now_ms - self.saga_started_ms >= timeout)
    }
}

/// The cause of a saga that compensates because its deadline passed.
pub const DEADLINE_PASSED: &str = "saga deadline passed";
/// The detail of the record that re-issues a call after a restart.
pub const RESUMED: &str = "resumed after restart";

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
            let order_id = order_id.clone();
            let next = match ctx.past_deadline() {
                false => S::CreatingInvoice {
                    order_id,
                    progress: Progress::first(now),
                },
                true => S::CancellingOrder {
                    order_id: Some(order_id),
                    invoice_id: None,
                    progress: Progress::first(now),
                    cause: DEADLINE_PASSED.to_string(),
                },
            };
            Ok(advance(Step::CreateOrder, progress, next))
        }
        (S::CreatingInvoice { order_id, progress }, E::InvoiceIssued { invoice_id })
            if progress.in_flight =>
        {
            let (order_id, invoice_id) = (order_id.clone(), invoice_id.clone());
            let next = match ctx.past_deadline() {
                false => S::ConfirmingOrder {
                    order_id,
                    invoice_id,
                    progress: Progress::first(now),
                },
                true => S::VoidingInvoice {
                    order_id,
                    invoice_id: Some(invoice_id),
                    progress: Progress::first(now),
                    cause: DEADLINE_PASSED.to_string(),
                },
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
        (_, E::CallFailed { failure, detail }) => {
            retry::failed(state, event, *failure, detail, ctx)
        }
        (_, E::RetryDue) => retry::retry_due(state, event, ctx),
        (_, E::Resumed) => retry::restart_call(state, event, true, RESUMED),
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

/// Builds the transition to `state`; the command follows from it: send the step's call
/// while one is due, wait while a retry is pending, nothing once the saga ended.
pub(super) fn to(state: SagaState, records: Vec<LogRecord>) -> Transition {
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
        false => Command::Backoff {
            attempt: p.attempt,
            parked: p.parked,
        },
    });
    Transition {
        state,
        log,
        command,
    }
}

pub(super) fn record(step: Step, outcome: Outcome, attempt: u32, detail: &str) -> LogRecord {
    LogRecord {
        step,
        outcome,
        attempt,
        detail: detail.to_string(),
        status: super::SagaStatus::Running,
    }
}

pub(super) fn invalid(state: &SagaState, event: &Event) -> InvalidTransition {
    InvalidTransition {
        state: state.name(),
        event: event.name(),
    }
}
