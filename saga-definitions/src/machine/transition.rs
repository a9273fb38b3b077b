//! `transition(state, event) -> new state + log records + next command`: the whole of a
//! saga's decisions over its definition.

use serde_json::Value;

use super::backoff::Backoff;
use super::state::{Effect, Position, Progress, SagaState, SagaStatus};
use super::unhappy::{self, End};
use crate::model::{Definition, Kind};

/// The log's name for records about the saga as a whole.
pub const SAGA_STEP: &str = "saga";
/// The log's name for the records of operators' actions.
pub const OPERATOR_STEP: &str = "operator";
/// The cause of a saga that compensates because its deadline passed.
pub const DEADLINE_PASSED: &str = "saga deadline passed";
/// The detail of the record that re-issues a call after a restart.
pub const RESUMED: &str = "resumed after restart";

/// How a failed call ended, as far as the saga cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying; the call may or may not have taken effect.
    Transient,
    /// A definite refusal: the call had no effect and retrying will not change that.
    Permanent,
}

/// An event in a saga's life, named in the past tense.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The current call succeeded with this answer (as JSON).
    Succeeded { output: Value },
    /// The current call failed.
    CallFailed { failure: Failure, detail: String },
    /// The backoff before the next attempt has passed.
    RetryDue,
    /// The orchestrator restarted (or took the saga over) and found it unfinished.
    Resumed,
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Succeeded { .. } => "Succeeded",
            Event::CallFailed { .. } => "CallFailed",
            Event::RetryDue => "RetryDue",
            Event::Resumed => "Resumed",
        }
    }
}

/// Which half of a step a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Action,
    Compensation,
}

impl Operation {
    /// The stored spelling, also the `saga-operation` metadata's.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Action => "action",
            Operation::Compensation => "compensation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Operation::Action, Operation::Compensation]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// The next thing to do; a transition yields at most one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Call the step's action or compensation now, as attempt `attempt`.
    Send {
        step: usize,
        operation: Operation,
        attempt: u32,
    },
    /// Wait until `until_ms` (engine clock), the time of the retry after failed attempt
    /// `attempt`, then report `RetryDue`.
    Wait {
        step: usize,
        attempt: u32,
        until_ms: i64,
    },
}

/// What happened, as a log record says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Succeeded,
    Failed,
    RetryScheduled,
    /// A replica took the saga over (its lease had expired, it is the replica's own
    /// saga at its start, or an operator's request reached it). Written by the store or
    /// the engine, never by a transition.
    Claimed,
    /// An operator had the current call tried again now, or the refused one again.
    Retried,
    /// An operator stopped the saga going forward: it compensates.
    Aborted,
    /// An operator declared the failed saga repaired by hand.
    Resolved,
    /// An operator recorded a step's output as if it had succeeded (on the operator's
    /// record and on the step's).
    Skipped,
}

impl Outcome {
    const ALL: [Outcome; 9] = [
        Outcome::Started,
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::RetryScheduled,
        Outcome::Claimed,
        Outcome::Retried,
        Outcome::Aborted,
        Outcome::Resolved,
        Outcome::Skipped,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "STARTED",
            Outcome::Succeeded => "SUCCEEDED",
            Outcome::Failed => "FAILED",
            Outcome::RetryScheduled => "RETRY_SCHEDULED",
            Outcome::Claimed => "CLAIMED",
            Outcome::Retried => "RETRIED",
            Outcome::Aborted => "ABORTED",
            Outcome::Resolved => "RESOLVED",
            Outcome::Skipped => "SKIPPED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// One record of the saga log, before the store numbers and stamps it. `step` is the
/// step's name for its action, its compensation's log name for the compensation, or
/// [`SAGA_STEP`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub step: String,
    pub operation: Option<Operation>,
    pub outcome: Outcome,
    pub attempt: u32,
    pub detail: String,
    /// The saga's status once the record is committed.
    pub status: SagaStatus,
}

/// The orchestrator's limits, which a step's own retry policy may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts of a step that may give up (compensatable steps and the pivot).
    pub max_attempts: u32,
    /// Time such a step may keep retrying.
    pub step_time_limit_ms: i64,
    /// A saga whose compensatable steps have not all succeeded by then compensates.
    pub saga_timeout_ms: Option<i64>,
    /// Steps that never give up are parked after this many attempts.
    pub park_after_attempts: u32,
    /// The wait before each retry, which a step's own retry policy may override.
    pub backoff: Backoff,
}

/// What a transition may read besides the state and the event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now_ms: i64,
    /// When the saga was accepted; its deadline counts from here.
    pub saga_started_ms: i64,
    pub policy: &'a Policy,
    pub definition: &'a Definition,
    /// A draw from `[0, 1]` of the engine's seeded source: the jitter of a retry that
    /// this transition schedules.
    pub jitter: f64,
}

impl Context<'_> {
    pub fn past_deadline(&self) -> bool {
        self.policy
            .saga_timeout_ms
            .is_some_and(|timeout| self.now_ms - self.saga_started_ms >= timeout)
    }

    /// The log's name of a step's action or compensation.
    pub fn log_name(&self, step: usize, operation: Operation) -> String {
        let def = &self.definition.steps[step];
        match operation {
            Operation::Action => def.name.clone(),
            Operation::Compensation => def.compensation_log_name().unwrap_or_default(),
        }
    }
}

/// The outcome of one transition: to be committed (state and log together) before the
/// command is carried out.
#[derive(Debug, Clone, PartialEq)]
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

/// A new saga: accepted, and its first step's action started.
pub fn start(ctx: &Context) -> Transition {
    let state = SagaState {
        position: Position::Forward {
            step: 0,
            progress: Progress::first(ctx.now_ms),
        },
        effects: vec![Effect::None; ctx.definition.steps.len()],
        cause: None,
        requests: Vec::new(),
    };
    let log = vec![
        saga_record(Outcome::Started, "saga accepted"),
        record(ctx, 0, Operation::Action, Outcome::Started, 1, ""),
    ];
    to(state, log)
}

/// Decides what `event` does to a saga in `state`.
pub fn transition(
    state: &SagaState,
    event: &Event,
    ctx: &Context,
) -> Result<Transition, InvalidTransition> {
    match (state.position, event) {
        (Position::Forward { step, progress }, Event::Succeeded { output })
            if progress.in_flight =>
        {
            let done = record(
                ctx,
                step,
                Operation::Action,
                Outcome::Succeeded,
                progress.attempt,
                "",
            );
            Ok(action_done(state, step, done, output.clone(), ctx))
        }
        (Position::Backward { step, progress }, Event::Succeeded { .. }) if progress.in_flight => {
            Ok(compensation_done(state, step, progress, ctx))
        }
        (_, Event::CallFailed { failure, detail }) => {
            unhappy::failed(state, event, *failure, detail, ctx)
        }
        (_, Event::RetryDue) => unhappy::retry_due(state, event, ctx),
        (_, Event::Resumed) => unhappy::resumed(state, event, ctx),
        _ => Err(invalid(state, event)),
    }
}

/// A step's action succeeded (or was skipped), as `done` records: the next step, the
/// end, or (a compensatable step past the deadline) the way back.
pub(super) fn action_done(
    state: &SagaState,
    step: usize,
    done: LogRecord,
    output: Value,
    ctx: &Context,
) -> Transition {
    let mut next = state.clone();
    next.effects[step] = Effect::Done(output);
    let kind = ctx.definition.steps[step].kind;
    if step + 1 == ctx.definition.steps.len() {
        next.position = Position::Completed;
        return to(
            next,
            vec![done, saga_record(Outcome::Succeeded, "saga completed")],
        );
    }
    if kind == Kind::Compensatable && ctx.past_deadline() {
        next.cause = Some(DEADLINE_PASSED.to_string());
        return unhappy::roll_back(next, step + 1, vec![done], End::NothingToUndo, ctx);
    }
    next.position = Position::Forward {
        step: step + 1,
        progress: Progress::first(ctx.now_ms),
    };
    let started = record(ctx, step + 1, Operation::Action, Outcome::Started, 1, "");
    to(next, vec![done, started])
}

/// A compensation succeeded: the next one down, or the end.
fn compensation_done(
    state: &SagaState,
    step: usize,
    progress: Progress,
    ctx: &Context,
) -> Transition {
    let mut next = state.clone();
    let undone = std::mem::replace(&mut next.effects[step], Effect::None);
    next.effects[step] = Effect::Undone(undone.output().cloned());
    let done = record(
        ctx,
        step,
        Operation::Compensation,
        Outcome::Succeeded,
        progress.attempt,
        "",
    );
    unhappy::roll_back(next, step, vec![done], End::AfterCompensations, ctx)
}

/// Builds the transition to `state`; the command follows from it: send the current call
/// while one is due, wait while a retry is pending, nothing once the saga ended.
pub(super) fn to(state: SagaState, records: Vec<LogRecord>) -> Transition {
    let status = state.status();
    let log = records
        .into_iter()
        .map(|r| LogRecord { status, ..r })
        .collect();
    let command = state
        .pending()
        .map(|(step, operation, p)| match p.in_flight {
            true => Command::Send {
                step,
                operation,
                attempt: p.attempt,
            },
            // A wait without a time (a state kept before it was) is over at once.
            false => Command::Wait {
                step,
                attempt: p.attempt,
                until_ms: p.retry_at_ms.unwrap_or(i64::MIN),
            },
        });
    Transition {
        state,
        log,
        command,
    }
}

pub(super) fn record(
    ctx: &Context,
    step: usize,
    operation: Operation,
    outcome: Outcome,
    attempt: u32,
    detail: &str,
) -> LogRecord {
    LogRecord {
        step: ctx.log_name(step, operation),
        operation: Some(operation),
        outcome,
        attempt,
        detail: detail.to_string(),
        status: SagaStatus::Running,
    }
}

pub(super) fn saga_record(outcome: Outcome, detail: &str) -> LogRecord {
    LogRecord {
        step: SAGA_STEP.to_string(),
        operation: None,
        outcome,
        attempt: 0,
        detail: detail.to_string(),
        status: SagaStatus::Running,
    }
}

pub(super) fn invalid(state: &SagaState, event: &Event) -> InvalidTransition {
    InvalidTransition {
        state: state.name(),
        event: event.name(),
    }
}
