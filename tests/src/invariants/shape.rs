//! What the log checker needs to know of a definition: its steps in order, each with
//! the name its action's records carry, its compensation's (if it has one) and its kind.

use std::collections::HashMap;

use anyhow::Result;
use saga_contracts::saga::v1 as pb;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use tonic::transport::Channel;

const PLACE_ORDER: &str = include_str!("../../../definitions/place-order.json");

/// How a step behaves when the saga goes back (`saga.v1.StepKind` made explicit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Compensatable,
    Pivot,
    Retriable,
}

/// One step as the log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepShape {
    pub action: String,
    /// The compensation's log name: its method in snake case.
    pub compensation: Option<String>,
    pub kind: Kind,
}

/// A definition's steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaShape {
    pub steps: Vec<StepShape>,
}

impl SagaShape {
    pub fn of(definition: &pb::SagaDefinition) -> Self {
        let steps = definition
            .steps
            .iter()
            .map(|step| {
                let compensation = Some(&step.compensation).filter(|c| !c.is_empty()).map(|c| {
                    saga_definitions::model::snake_case(c.rsplit('/').next().unwrap_or(c))
                });
                let kind = match step.kind() {
                    pb::StepKind::Compensatable => Kind::Compensatable,
                    pb::StepKind::Pivot => Kind::Pivot,
                    pb::StepKind::Retriable => Kind::Retriable,
                    pb::StepKind::Unspecified if compensation.is_some() => Kind::Compensatable,
                    pb::StepKind::Unspecified => Kind::Pivot,
                };
                StepShape {
                    action: step.name.clone(),
                    compensation,
                    kind,
                }
            })
            .collect();
        Self { steps }
    }

    /// The built-in place-order definition.
    pub fn place_order() -> Self {
        let definition = saga_definitions::file::from_json(PLACE_ORDER)
            .unwrap_or_else(|_| pb::SagaDefinition::default());
        Self::of(&definition)
    }

    /// The index of the step whose action's records carry `name`.
    pub fn action_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.action == name)
    }

    /// The index of the step whose compensation's records carry `name`.
    pub fn compensation_index(&self, name: &str) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.compensation.as_deref() == Some(name))
    }
}

/// The shapes of the definition versions sagas run, by (name, version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shapes {
    by_version: HashMap<(String, u32), SagaShape>,
}

impl Shapes {
    /// Only place-order version 1 (unit tests of the checker).
    pub fn place_order() -> Self {
        let mut shapes = Self::default();
        shapes.insert("place-order", 1, SagaShape::place_order());
        shapes
    }

    pub fn insert(&mut self, name: &str, version: u32, shape: SagaShape) {
        self.by_version.insert((name.to_string(), version), shape);
    }

    /// The shape of the version `saga` runs.
    pub fn of(&self, saga: &pb::Saga) -> Option<&SagaShape> {
        self.by_version
            .get(&(saga.definition.clone(), saga.definition_version))
    }

    /// Reads from the orchestrator the shape of every version `sagas` run.
    pub async fn read(client: &OrchestratorClient<Channel>, sagas: &[pb::Saga]) -> Result<Self> {
        let mut shapes = Self::default();
        for saga in sagas {
            let key = (saga.definition.clone(), saga.definition_version);
            if shapes.by_version.contains_key(&key) {
                continue;
            }
            let info = client
                .clone()
                .get_definition(pb::GetDefinitionRequest {
                    name: key.0.clone(),
                    version: key.1,
                })
                .await?
                .into_inner();
            let shape = SagaShape::of(&info.definition.unwrap_or_default());
            shapes.by_version.insert(key, shape);
        }
        Ok(shapes)
    }
}
