//! How one call ended, and the counts of a phase's outcomes.

use std::collections::BTreeMap;

use saga_contracts::saga::v1::SagaStatus;
use serde::Serialize;

/// How one saga (or one direct-call sequence of the floor) ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Ended with the order confirmed and invoiced.
    Completed,
    /// Ended with its steps undone.
    Compensated,
    /// Ended FAILED: a compensation was refused, an operator must act.
    Failed,
    /// Answered while still going (the answer's status name).
    Unfinished(String),
    /// The call failed: the gRPC code's name, e.g. `DeadlineExceeded`.
    Error(String),
}

impl Outcome {
    /// The outcome of a PlaceOrder answer with this saga status.
    pub fn of_status(status: SagaStatus) -> Self {
        match status {
            SagaStatus::Completed => Outcome::Completed,
            SagaStatus::Compensated => Outcome::Compensated,
            SagaStatus::Failed => Outcome::Failed,
            other => Outcome::Unfinished(other.as_str_name().to_string()),
        }
    }

    /// The outcome of a failed call.
    pub fn of_error(status: &tonic::Status) -> Self {
        Outcome::Error(format!("{:?}", status.code()))
    }

    /// Whether the call was refused for overload (RESOURCE_EXHAUSTED).
    pub fn refused(&self) -> bool {
        matches!(self, Outcome::Error(code) if code == "ResourceExhausted")
    }

    /// Whether the call was answered (the calls whose latency is recorded).
    pub fn answered(&self) -> bool {
        !matches!(self, Outcome::Error(_))
    }
}

/// How many calls of a phase ended in each way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub completed: u64,
    pub compensated: u64,
    pub failed: u64,
    /// Answered before the saga ended, by status.
    pub unfinished: BTreeMap<String, u64>,
    /// Calls that failed, by gRPC code.
    pub errors: BTreeMap<String, u64>,
}

impl Outcomes {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Compensated => self.compensated += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Unfinished(status) => *self.unfinished.entry(status.clone()).or_default() += 1,
            Outcome::Error(code) => *self.errors.entry(code.clone()).or_default() += 1,
        }
    }

    /// Sagas that ended.
    pub fn ended(&self) -> u64 {
        self.completed + self.compensated + self.failed
    }

    /// Calls that failed.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Every call counted.
    pub fn total(&self) -> u64 {
        self.ended() + self.unfinished.values().sum::<u64>() + self.error_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_by_kind() {
        let mut outcomes = Outcomes::default();
        for outcome in [
            Outcome::of_status(SagaStatus::Completed),
            Outcome::of_status(SagaStatus::Completed),
            Outcome::of_status(SagaStatus::Compensated),
            Outcome::of_status(SagaStatus::Running),
            Outcome::of_error(&tonic::Status::deadline_exceeded("late")),
        ] {
            outcomes.add(&outcome);
        }
        assert_eq!(
            outcomes,
            Outcomes {
                completed: 2,
                compensated: 1,
                failed: 0,
                unfinished: BTreeMap::from([("SAGA_STATUS_RUNNING".to_string(), 1)]),
                errors: BTreeMap::from([("DeadlineExceeded".to_string(), 1)]),
            }
        );
        assert_eq!(
            (outcomes.ended(), outcomes.error_count(), outcomes.total()),
            (3, 1, 5)
        );
    }
}
