//! Operators' actions on a saga, decided like any event: retry the current call now (or
//! the refused one again), abort (compensate as if the current step had failed for
//! good), resolve a failed saga, skip a step with a given output. Each writes its own
//! `operator` record naming who, what and why, and a request id seen before changes
//! nothing.

use serde_json::Value;

use super::state::{Position, Progress, RefusedCall, SagaState};
use super::transition::{
    Context, LogRecord, OPERATOR_STEP, Operation, Outcome, Transition, action_done, record, to,
};
use super::unhappy::{GivenUp, give_up};
use crate::model::Kind;

#[cfg(test)]
mod tests;

/// An operator's request.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervention {
    pub action: Action,
    /// Who asked: the authenticated principal, or `anonymous`.
    pub principal: String,
    pub reason: String,
    /// The caller's id for this request; the same id again changes nothing.
    pub request_id: String,
}

/// What the operator asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Retry,
    Abort,
    Resolve,
    /// Record `output` (as JSON, checked by the caller) as the answer of `step`'s action.
    Skip {
        step: String,
        output: Value,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Abort => "abort",
            Action::Resolve => "resolve",
            Action::Skip { .. } => "skip",
        }
    }

    fn outcome(&self) -> Outcome {
        match self {
            Action::Retry => Outcome::Retried,
            Action::Abort => Outcome::Aborted,
            Action::Resolve => Outcome::Resolved,
            Action::Skip { .. } => Outcome::Skipped,
        }
    }
}

/// What an accepted request does.
#[derive(Debug, Clone, PartialEq)]
pub enum Intervened {
    /// Commit this transition (its first record the operator's).
    Apply(Transition),
    /// A request with this id was applied before: nothing to do.
    AlreadyApplied,
}

/// The action makes no sense in the saga's state; the message names the state. Nothing
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Decides what the operator's request does to a saga in `state`.
pub fn intervene(
    state: &SagaState,
    request: &Intervention,
    ctx: &Context,
) -> Result<Intervened, Refused> {
    if state.requests.contains(&request.request_id) {
        return Ok(Intervened::AlreadyApplied);
    }
    let acted = match &request.action {
        Action::Retry => retry(state, ctx)?,
        Action::Abort => abort(state, request, ctx)?,
        Action::Resolve => resolve(state)?,
        Action::Skip { step, output } => skip(state, step, output, request, ctx)?,
    };
    let mut next = acted.state;
    next.requests.push(request.request_id.clone());
    let mut log = vec![operator_record(request)];
    log.extend(acted.log);
    Ok(Intervened::Apply(to(next, log)))
}

/// The new state and the records after the operator's.
struct Acted {
    state: SagaState,
    log: Vec<LogRecord>,
}

impl From<Transition> for Acted {
    fn from(t: Transition) -> Self {
        Self {
            state: t.state,
            log: t.log,
        }
    }
}

/// A call waiting for its retry (or parked) is sent now; a refused call is sent again
/// with its policy reset (its attempts and time counted afresh).
fn retry(state: &SagaState, ctx: &Context) -> Result<Acted, Refused> {
    let mut next = state.clone();
    let (step, operation, progress) = match (state.pending(), state.position) {
        (Some((step, operation, progress)), _) => {
            if progress.in_flight {
                return Err(Refused(format!(
                    "{} at {}: its call (attempt {}) is in flight; nothing to retry until it answers",
                    state.status().as_str(),
                    ctx.log_name(step, operation),
                    progress.attempt
                )));
            }
            let progress = Progress {
                attempt: progress.attempt + 1,
                in_flight: true,
                retry_at_ms: None,
                ..progress
            };
            (step, operation, progress)
        }
        (
            None,
            Position::Failed {
                refused: Some(RefusedCall { step, operation }),
            },
        ) => {
            if operation == Operation::Action {
                next.cause = None;
            }
            (step, operation, Progress::first(ctx.now_ms))
        }
        (None, Position::Failed { refused: None }) => {
            return Err(Refused(
                "FAILED before the refused call was recorded: it cannot be retried; resolve the saga".into(),
            ));
        }
        (None, _) => return Err(ended(state, "retry")),
    };
    next.position = match operation {
        Operation::Action => Position::Forward { step, progress },
        Operation::Compensation => Position::Backward { step, progress },
    };
    let started = record(ctx, step, operation, Outcome::Started, progress.attempt, "");
    Ok(Acted {
        state: next,
        log: vec![started],
    })
}

/// A saga going forward before its point of no return gives its current step up: it
/// compensates whatever may have taken effect, the current step included.
fn abort(state: &SagaState, request: &Intervention, ctx: &Context) -> Result<Acted, Refused> {
    let (step, progress) = match state.position {
        Position::Forward { step, progress } => (step, progress),
        Position::Backward { step, .. } => {
            return Err(Refused(format!(
                "COMPENSATING at {}: the saga already goes back",
                ctx.log_name(step, Operation::Compensation)
            )));
        }
        _ => return Err(ended(state, "abort")),
    };
    let name = ctx.log_name(step, Operation::Action);
    let may_have_acted = progress.in_flight || progress.maybe_applied;
    match ctx.definition.steps[step].kind {
        Kind::Retriable => {
            return Err(Refused(format!(
                "RUNNING at {name}, past the point of no return: nothing can be compensated any more; retry or skip the step"
            )));
        }
        Kind::Pivot if may_have_acted => {
            return Err(Refused(format!(
                "RUNNING at the pivot {name}, which may have taken effect and cannot be undone; retry or skip it"
            )));
        }
        Kind::Pivot | Kind::Compensatable => {}
    }
    let call = GivenUp {
        step,
        operation: Operation::Action,
        attempt: progress.attempt,
        maybe_applied: may_have_acted,
    };
    let cause = format!("aborted by {}: {}", request.principal, request.reason);
    Ok(give_up(state, call, "aborted by an operator", cause, ctx).into())
}

/// A failed saga ends RESOLVED; its cause stays, the log says who resolved it.
fn resolve(state: &SagaState) -> Result<Acted, Refused> {
    match state.position {
        Position::Failed { .. } => {
            let mut next = state.clone();
            next.position = Position::Resolved;
            Ok(Acted {
                state: next,
                log: Vec::new(),
            })
        }
        _ => Err(Refused(format!(
            "{}: only a FAILED saga can be resolved",
            state.status().as_str()
        ))),
    }
}

/// The current step's action, or the refused action of a failed saga, takes `output` as
/// its answer, and the saga goes on.
fn skip(
    state: &SagaState,
    name: &str,
    output: &Value,
    request: &Intervention,
    ctx: &Context,
) -> Result<Acted, Refused> {
    let Some(index) = ctx.definition.steps.iter().position(|s| s.name == name) else {
        return Err(Refused(format!("the definition has no step {name}")));
    };
    let (step, attempt) = match state.position {
        Position::Forward { step, progress } => (step, progress.attempt),
        Position::Failed {
            refused:
                Some(RefusedCall {
                    step,
                    operation: Operation::Action,
                }),
        } => (step, 0),
        Position::Failed {
            refused: Some(RefusedCall { step, .. }),
        } => {
            return Err(Refused(format!(
                "FAILED at the compensation {}: a compensation cannot be skipped; retry it, or resolve the saga",
                ctx.log_name(step, Operation::Compensation)
            )));
        }
        Position::Backward { step, .. } => {
            return Err(Refused(format!(
                "COMPENSATING at {}: a compensation in progress cannot be skipped",
                ctx.log_name(step, Operation::Compensation)
            )));
        }
        _ => return Err(ended(state, "skip")),
    };
    if step != index {
        return Err(Refused(format!(
            "{} at {}, not at {name}: only the current step can be skipped",
            state.status().as_str(),
            ctx.log_name(step, Operation::Action)
        )));
    }
    let mut from = state.clone();
    from.cause = None;
    let skipped = record(
        ctx,
        step,
        Operation::Action,
        Outcome::Skipped,
        attempt,
        &format!("skipped by {}", request.principal),
    );
    Ok(action_done(&from, step, skipped, output.clone(), ctx).into())
}

fn ended(state: &SagaState, action: &str) -> Refused {
    Refused(format!(
        "the saga has ended {}: nothing to {action}",
        state.status().as_str()
    ))
}

fn operator_record(request: &Intervention) -> LogRecord {
    let what = match &request.action {
        Action::Skip { step, .. } => format!("{step}, "),
        _ => String::new(),
    };
    LogRecord {
        step: OPERATOR_STEP.to_string(),
        operation: None,
        outcome: request.action.outcome(),
        attempt: 0,
        detail: format!(
            "{what}by {} (request {}): {}",
            request.principal, request.request_id, request.reason
        ),
        status: super::SagaStatus::Running,
    }
}
