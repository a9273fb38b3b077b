//! What a saga's templates read while it runs: its id, key and input, and what its
//! steps answered so far.

use serde_json::Value;

use super::state::SagaState;
use crate::model::Definition;
use crate::template::Scope;

/// The saga as its templates see it. A step whose answer is unknown (it may have taken
/// effect, or has not run) reads as `null`: every field of it its default.
#[derive(Debug, Clone, Copy)]
pub struct SagaScope<'a> {
    pub saga_id: &'a str,
    pub idempotency_key: &'a str,
    pub input: &'a Value,
    pub definition: &'a Definition,
    pub state: &'a SagaState,
}

const UNKNOWN: Value = Value::Null;

impl Scope for SagaScope<'_> {
    fn saga_id(&self) -> &str {
        self.saga_id
    }

    fn idempotency_key(&self) -> &str {
        self.idempotency_key
    }

    fn input(&self) -> &Value {
        self.input
    }

    fn step_output(&self, step: &str) -> Option<&Value> {
        let index = self.definition.steps.iter().position(|s| s.name == step)?;
        let effect = self.state.effects.get(index)?;
        Some(effect.output().unwrap_or(&UNKNOWN))
    }
}
