//! The saga metadata every orchestrator call carries (`saga-id`, `saga-step`,
//! `saga-operation`; `idempotency-key` is `<saga-id>:<step>:<operation>`), read on the
//! participant's side, and the barrier step it keys. Keyed on it, a participant keeps one
//! record per step of the saga's definition, however many steps call the same method,
//! and the action and compensation of a step are each other's counterpart.
//!
//! ```text
//! let call = SagaCall::from_metadata(request.metadata())?;
//! writer.write(move |tx| Box::pin(async move {
//!     match barrier::enter(tx, &call.barrier_step()).await? { … }
//! })).await
//! ```

use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::barrier::{Step, StepKind};

/// Which half of a step a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Action,
    Compensation,
}

/// One call's saga metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaCall {
    saga_id: String,
    operation: Operation,
    /// The barrier's names of the step's action and compensation.
    action_op: String,
    compensation_op: String,
}

impl SagaCall {
    /// Reads the metadata; `INVALID_ARGUMENT` naming the entry that is missing or bad.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        let text = |key: &str| {
            let value = metadata
                .get(key)
                .ok_or_else(|| Status::invalid_argument(format!("{key}: missing metadata")))?;
            let value = value
                .to_str()
                .map_err(|_| Status::invalid_argument(format!("{key}: not text")))?;
            match value.is_empty() {
                true => Err(Status::invalid_argument(format!("{key}: empty"))),
                false => Ok(value.to_string()),
            }
        };
        let (saga_id, step) = (text("saga-id")?, text("saga-step")?);
        let operation = match text("saga-operation")?.as_str() {
            "action" => Operation::Action,
            "compensation" => Operation::Compensation,
            other => {
                return Err(Status::invalid_argument(format!(
                    "saga-operation: {other:?} is neither action nor compensation"
                )));
            }
        };
        Ok(Self {
            saga_id,
            operation,
            action_op: format!("{step}:action"),
            compensation_op: format!("{step}:compensation"),
        })
    }

    pub fn saga_id(&self) -> &str {
        &self.saga_id
    }

    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The barrier step of this call: `<step>:action`, undone by `<step>:compensation`.
    pub fn barrier_step(&self) -> Step<'_> {
        match self.operation {
            Operation::Action => Step {
                saga_id: &self.saga_id,
                op: &self.action_op,
                kind: StepKind::Action {
                    undone_by: Some(&self.compensation_op),
                },
            },
            Operation::Compensation => Step {
                saga_id: &self.saga_id,
                op: &self.compensation_op,
                kind: StepKind::Compensation {
                    undoes: &self.action_op,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataValue;

    use super::*;

    fn metadata(entries: &[(&'static str, &'static str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (key, value) in entries {
            map.insert(*key, MetadataValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_steps_action_and_compensation_are_each_others_counterpart() {
        let undo = metadata(&[
            ("saga-id", "s-1"),
            ("saga-step", "reserve_stock"),
            ("saga-operation", "compensation"),
        ]);
        let call = SagaCall::from_metadata(&undo).expect("valid metadata");
        let step = call.barrier_step();
        assert_eq!(
            (step.saga_id, step.op),
            ("s-1", "reserve_stock:compensation")
        );
        assert_eq!(
            step.kind,
            StepKind::Compensation {
                undoes: "reserve_stock:action"
            }
        );
    }

    #[test]
    fn missing_or_bad_metadata_is_invalid_argument_naming_the_entry() {
        for (entries, named) in [
            (
                vec![("saga-step", "x"), ("saga-operation", "action")],
                "saga-id",
            ),
            (
                vec![
                    ("saga-id", "s"),
                    ("saga-step", "x"),
                    ("saga-operation", "undo"),
                ],
                "saga-operation",
            ),
        ] {
            let refused = SagaCall::from_metadata(&metadata(&entries)).expect_err("bad");
            assert_eq!(refused.code(), tonic::Code::InvalidArgument);
            assert!(
                refused.message().starts_with(named),
                "{}",
                refused.message()
            );
        }
    }
}
