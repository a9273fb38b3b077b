//! What a saga is at each point of a definition.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Operation;

/// The coarse status shown to clients and used to find unfinished sagas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaStatus {
    Running,
    Compensating,
    Completed,
    Compensated,
    /// A compensation, or a step past the point of no return, was refused for good: an
    /// operator must act.
    Failed,
    /// An operator declared the failed saga repaired by hand.
    Resolved,
}

impl SagaStatus {
    pub const ALL: [SagaStatus; 6] = [
        SagaStatus::Running,
        SagaStatus::Compensating,
        SagaStatus::Completed,
        SagaStatus::Compensated,
        SagaStatus::Failed,
        SagaStatus::Resolved,
    ];

    /// The stored spelling; the one place status text is written.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Running => "RUNNING",
            SagaStatus::Compensating => "COMPENSATING",
            SagaStatus::Completed => "COMPLETED",
            SagaStatus::Compensated => "COMPENSATED",
            SagaStatus::Failed => "FAILED",
            SagaStatus::Resolved => "RESOLVED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SagaStatus::Completed
                | SagaStatus::Compensated
                | SagaStatus::Failed
                | SagaStatus::Resolved
        )
    }
}

/// Where the current step's call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// 1 for the first call of the step.
    pub attempt: u32,
    /// When the step's first attempt started (engine clock, ms).
    pub started_ms: i64,
    /// A call is out (true) or the step waits for its retry (false).
    pub in_flight: bool,
    /// Some attempt ended without a definite "no": the step may have taken effect.
    pub maybe_applied: bool,
    /// The step keeps failing and is retried at a slow pace; an operator should look.
    #[serde(default)]
    pub parked: bool,
    /// While the step waits for its retry: when it is due (engine clock, ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at_ms: Option<i64>,
}

impl Progress {
    /// The first attempt of a step, sent at `now_ms`.
    pub fn first(now_ms: i64) -> Self {
        Self {
            attempt: 1,
            started_ms: now_ms,
            in_flight: true,
            maybe_applied: false,
            parked: false,
            retry_at_ms: None,
        }
    }
}

/// What a step's action did, as far as the saga knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", content = "output", rename_all = "snake_case")]
pub enum Effect {
    /// Not run (or refused: a definite "no" has no effect).
    None,
    /// Succeeded with this output (the answer as JSON).
    Done(Value),
    /// May have taken effect; its answer is unknown.
    Unknown,
    /// Undone by its compensation; the action's answer, when it was known.
    Undone(Option<Value>),
}

impl Effect {
    /// Whether the action may have taken effect that is not undone yet.
    pub fn to_undo(&self) -> bool {
        matches!(self, Effect::Done(_) | Effect::Unknown)
    }

    /// The action's answer, if it is known (undone or not).
    pub fn output(&self) -> Option<&Value> {
        match self {
            Effect::Done(output) | Effect::Undone(Some(output)) => Some(output),
            Effect::None | Effect::Unknown | Effect::Undone(None) => None,
        }
    }
}

/// Which step is in progress, and which way the saga goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "position", rename_all = "snake_case")]
pub enum Position {
    /// Running the action of step `step`.
    Forward {
        step: usize,
        progress: Progress,
    },
    /// Running the compensation of step `step`.
    Backward {
        step: usize,
        progress: Progress,
    },
    Completed,
    Compensated,
    /// A call was refused for good and the saga stopped: an operator must act.
    Failed {
        /// The refused call, which an operator may retry; absent in sagas that failed
        /// before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<RefusedCall>,
    },
    /// An operator declared the failed saga repaired by hand.
    Resolved,
}

/// The call that failed a saga for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedCall {
    pub step: usize,
    pub operation: Operation,
}

/// A saga's state: where it is, and what each step's action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaState {
    pub position: Position,
    /// One per step of the definition.
    pub effects: Vec<Effect>,
    /// Why the saga rolls back or failed; `None` while it goes forward or once completed.
    pub cause: Option<String>,
    /// The ids of the operator requests applied to the saga: the same request again
    /// changes nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
}

impl SagaState {
    pub fn status(&self) -> SagaStatus {
        match self.position {
            Position::Forward { .. } => SagaStatus::Running,
            Position::Backward { .. } => SagaStatus::Compensating,
            Position::Completed => SagaStatus::Completed,
            Position::Compensated => SagaStatus::Compensated,
            Position::Failed { .. } => SagaStatus::Failed,
            Position::Resolved => SagaStatus::Resolved,
        }
    }

    /// The step in progress, its direction and its call's progress; `None` once ended.
    pub fn pending(&self) -> Option<(usize, Operation, Progress)> {
        match self.position {
            Position::Forward { step, progress } => Some((step, Operation::Action, progress)),
            Position::Backward { step, progress } => {
                Some((step, Operation::Compensation, progress))
            }
            Position::Completed
            | Position::Compensated
            | Position::Failed { .. }
            | Position::Resolved => None,
        }
    }

    /// The same state with the current call's progress replaced (ended states as they are).
    pub fn with_progress(&self, new: Progress) -> SagaState {
        let mut next = self.clone();
        match &mut next.position {
            Position::Forward { progress, .. } | Position::Backward { progress, .. } => {
                *progress = new
            }
            Position::Completed
            | Position::Compensated
            | Position::Failed { .. }
            | Position::Resolved => {}
        }
        next
    }

    /// The position's name, for spans and errors.
    pub fn name(&self) -> &'static str {
        match self.position {
            Position::Forward { .. } => "Forward",
            Position::Backward { .. } => "Backward",
            Position::Completed => "Completed",
            Position::Compensated => "Compensated",
            Position::Failed { .. } => "Failed",
            Position::Resolved => "Resolved",
        }
    }
}
