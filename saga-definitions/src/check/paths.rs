//! The shapes of what a template's paths read: `saga.*` are strings, a step's output is
//! its action's response message (walked field by field), and the input is whatever the
//! templates need it to be (learned, not checked, here).

use prost_reflect::{Kind, MessageDescriptor};

use super::input::InputShape;
use super::types::Shape;
use super::value::PathTypes;
use crate::path::{Path, Root, Segment};
use crate::problem::Problem;

/// The paths a template may read: the steps before it (with their output types), the
/// steps after it (named only to say so), and the input being learned.
pub struct StepPaths<'a> {
    pub steps: &'a [(String, Option<MessageDescriptor>)],
    pub later: &'a [String],
    pub input: &'a mut InputShape,
    pub problems: Vec<Problem>,
}

impl StepPaths<'_> {
    /// A path whose value goes anywhere (the output template): it must read something.
    pub fn any(&mut self, path: &Path, at: &str) {
        match &path.root {
            Root::Input => self.input.record(path, None, at, &mut self.problems),
            _ => {
                let _ = self.read(path, at);
            }
        }
    }

    /// The shape a path reads; `None` when unknown or wrong (then reported).
    fn read(&mut self, path: &Path, at: &str) -> Option<Shape> {
        let step = match &path.root {
            Root::SagaId | Root::IdempotencyKey => return Some(Shape::One(Kind::String)),
            Root::Input => return None,
            Root::StepOutput(step) => step,
        };
        let Some((_, output)) = self.steps.iter().find(|(name, _)| name == step) else {
            let why = match self.later.iter().any(|name| name == step) {
                true => format!("{path}: step {step} runs later, its output is not known yet"),
                false => format!("{path}: there is no step {step} before this one"),
            };
            self.problems.push(Problem::new(at, why));
            return None;
        };
        let mut shape = Shape::One(Kind::Message(output.clone()?));
        for segment in &path.segments {
            shape = match self.down(&shape, segment) {
                Ok(next) => next,
                Err(why) => {
                    self.problems
                        .push(Problem::new(at, format!("{path}: {why}")));
                    return None;
                }
            };
        }
        Some(shape)
    }

    fn down(&self, shape: &Shape, segment: &Segment) -> Result<Shape, String> {
        match (shape, segment) {
            (Shape::One(Kind::Message(m)), Segment::Field(name)) => m
                .get_field_by_name(name)
                .or_else(|| m.get_field_by_json_name(name))
                .map(|f| Shape::of(&f))
                .ok_or_else(|| format!("{} has no field {name}", m.full_name())),
            (Shape::List(kind), Segment::Index(_)) => Ok(Shape::One(kind.clone())),
            (shape, Segment::Field(name)) => Err(format!("{shape} has no field {name}")),
            (shape, Segment::Index(i)) => Err(format!("{shape} is not a list to take [{i}] of")),
        }
    }
}

impl PathTypes for StepPaths<'_> {
    fn shape(&mut self, path: &Path, at: &str, target: &Shape) -> Option<Shape> {
        if path.root == Root::Input {
            self.input
                .record(path, Some(target.clone()), at, &mut self.problems);
            return None;
        }
        self.read(path, at)
    }
}
