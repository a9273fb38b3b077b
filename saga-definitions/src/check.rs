//! Checking a definition as registered: its form (names, methods, templates, kinds,
//! retry limits) and its fit to the participants' schemas (every method served, every
//! template field in the request message with a value of its type, every path reading
//! an earlier step's output field or the saga's input). Every problem is reported.

mod input;
mod paths;
mod rules;
mod types;
mod value;

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};
use saga_contracts::saga::v1 as pb;

pub use input::InputShape;
pub use types::Shape;

use crate::model::{CallDef, Definition, Kind, MethodName, StepDef};
use crate::problem::Problem;
use crate::template::Node;
use paths::StepPaths;
use value::ValueChecker;

/// The longest name of a definition or a step.
const MAX_NAME: usize = 64;
/// Step names the saga log keeps for records about the saga as a whole.
const RESERVED_STEPS: [&str; 2] = ["saga", "operator"];
/// Upper bounds on a step's retry limits.
const MAX_ATTEMPTS: u32 = 10_000;
const MAX_MS: u32 = 7 * 24 * 3_600_000;

/// Where method schemas come from: the participants' reflection, or descriptor sets.
pub trait Schemas {
    /// The method's descriptor, or why there is none (no participant serves the
    /// service, or the service has no such method).
    fn method(&self, name: &MethodName) -> Result<MethodDescriptor, String>;
}

impl Schemas for DescriptorPool {
    fn method(&self, name: &MethodName) -> Result<MethodDescriptor, String> {
        let service = self
            .get_service_by_name(&name.service)
            .ok_or_else(|| format!("no participant serves {}", name.service))?;
        service
            .methods()
            .find(|m| m.name() == name.method)
            .ok_or_else(|| format!("{} has no method {}", name.service, name.method))
    }
}

/// A definition that passed every check, with what it learned on the way.
#[derive(Debug, Clone)]
pub struct Checked {
    pub definition: Definition,
    /// What the saga's input must hold, from the templates' `input.*` paths.
    pub input: InputShape,
    /// Each method the definition calls, resolved.
    pub methods: HashMap<MethodName, MethodDescriptor>,
}

/// Checks a definition against the schemas; every problem found, or the checked one.
pub fn check(proto: &pb::SagaDefinition, schemas: &dyn Schemas) -> Result<Checked, Vec<Problem>> {
    let mut checker = Checker {
        schemas,
        problems: Vec::new(),
        methods: HashMap::new(),
        outputs: Vec::new(),
        names: proto.steps.iter().map(|s| s.name.clone()).collect(),
        input: InputShape::default(),
    };
    if !is_name(&proto.name) {
        checker.problem(
            "name",
            format!("{:?} is not a name: [a-z0-9][a-z0-9-]{{0,63}}", proto.name),
        );
    }
    if proto.steps.is_empty() {
        checker.problem("steps", "a saga needs at least one step");
    }
    let (steps, kinds): (Vec<Option<StepDef>>, Vec<Option<Kind>>) = proto
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| checker.step(i, step))
        .unzip();
    checker.kinds_in_order(&kinds);
    checker.log_names_unique(&proto.steps);
    let output = checker.output(&proto.output_template);
    if !checker.problems.is_empty() {
        return Err(checker.problems);
    }
    Ok(Checked {
        definition: Definition {
            name: proto.name.clone(),
            description: proto.description.clone(),
            steps: steps.into_iter().flatten().collect(),
            output,
        },
        input: checker.input,
        methods: checker.methods,
    })
}

struct Checker<'a> {
    schemas: &'a dyn Schemas,
    problems: Vec<Problem>,
    methods: HashMap<MethodName, MethodDescriptor>,
    /// Each step so far by name, with its action's output type (`None`: unknown).
    outputs: Vec<(String, Option<MessageDescriptor>)>,
    /// Every step's name, to tell a later step from none.
    names: Vec<String>,
    input: InputShape,
}

impl Checker<'_> {
    fn problem(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(location, message));
    }

    /// One step, `None` when part of it is wrong (the problems say what), and its kind.
    fn step(&mut self, i: usize, step: &pb::Step) -> (Option<StepDef>, Option<Kind>) {
        let at = format!("steps[{i}]");
        let before = self.problems.len();
        self.step_name(&at, &step.name);
        let action = self.call(&at, "action", &step.action, &step.action_input);
        let output = action
            .as_ref()
            .and_then(|(_, m)| m.as_ref().map(MethodDescriptor::output));
        self.outputs.push((step.name.clone(), output));
        let compensation = match step.compensation.is_empty() {
            true => {
                if !step.compensation_input.trim().is_empty() {
                    self.problem(
                        format!("{at}.compensation_input"),
                        "given without a compensation",
                    );
                }
                None
            }
            false => self.call(
                &at,
                "compensation",
                &step.compensation,
                &step.compensation_input,
            ),
        };
        let kind = self.kind(&at, step.kind, !step.compensation.is_empty());
        let retry = self.retry(&at, step.retry.as_ref());
        let ok = self.problems.len() == before;
        let checked = match (action, kind) {
            (Some((action, _)), Some(kind)) if ok => Some(StepDef {
                name: step.name.clone(),
                action,
                compensation: compensation.map(|(call, _)| call),
                kind,
                retry,
            }),
            _ => None,
        };
        (checked, kind)
    }

    fn step_name(&mut self, at: &str, name: &str) {
        let location = format!("{at}.name");
        let well_formed = !name.is_empty()
            && name.len() <= MAX_NAME
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            self.problem(
                location,
                format!("{name:?} is not a step name: [a-z][a-z0-9_]{{0,63}}"),
            );
        } else if RESERVED_STEPS.contains(&name) {
            self.problem(location, format!("{name:?} is reserved for the saga log"));
        } else if let Some(j) = self.outputs.iter().position(|(n, _)| n == name) {
            self.problem(
                location,
                format!("{name:?} is already the name of steps[{j}]"),
            );
        }
    }

    /// An action or compensation: its method resolved and its template checked.
    fn call(
        &mut self,
        at: &str,
        which: &str,
        method: &str,
        template: &str,
    ) -> Option<(CallDef, Option<MethodDescriptor>)> {
        let input_at = format!("{at}.{which}_input");
        let node = match template.trim() {
            "" => Some(Node::Object(Vec::new())),
            text => match Node::parse(text) {
                Ok(node) => Some(node),
                Err(e) => {
                    self.problem(input_at.clone(), e.to_string());
                    None
                }
            },
        };
        let Some(name) = MethodName::parse(method) else {
            self.problem(
                format!("{at}.{which}"),
                format!("{method:?} is not a method: package.Service/Method"),
            );
            return None;
        };
        let descriptor = match self.schemas.method(&name) {
            Ok(descriptor) => Some(descriptor),
            Err(why) => {
                self.problem(format!("{at}.{which}"), why);
                None
            }
        };
        if let (Some(node), Some(descriptor)) = (&node, &descriptor) {
            self.methods.insert(name.clone(), descriptor.clone());
            self.template(node, &descriptor.input(), &input_at);
        }
        Some((
            CallDef {
                method: name,
                input: node?,
            },
            descriptor,
        ))
    }

    /// A template against its request message, reading the steps so far: an action's
    /// the earlier ones, a compensation's its own step's too (checked once it is known).
    fn template(&mut self, node: &Node, message: &MessageDescriptor, at: &str) {
        let known = self.outputs.len();
        let mut paths = StepPaths {
            steps: &self.outputs,
            later: self.names.get(known..).unwrap_or_default(),
            input: &mut self.input,
            problems: Vec::new(),
        };
        let mut problems = Vec::new();
        ValueChecker {
            problems: &mut problems,
            paths: &mut paths,
        }
        .message(node, message, at);
        problems.append(&mut paths.problems);
        problems.sort_by(|a, b| a.location.cmp(&b.location));
        self.problems.append(&mut problems);
    }

    /// The output template: free JSON whose paths read any step's output or the input.
    fn output(&mut self, template: &str) -> Option<Node> {
        if template.trim().is_empty() {
            return None;
        }
        let node = match Node::parse(template) {
            Ok(node) => node,
            Err(e) => {
                self.problem("output_template", e.to_string());
                return None;
            }
        };
        let mut paths = StepPaths {
            steps: &self.outputs,
            later: &[],
            input: &mut self.input,
            problems: Vec::new(),
        };
        for (at, path) in node.paths() {
            let at = crate::template::join("output_template", &at);
            paths.any(path, &at);
        }
        self.problems.append(&mut paths.problems);
        Some(node)
    }
}

/// `[a-z0-9][a-z0-9-]{0,63}`.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests;
