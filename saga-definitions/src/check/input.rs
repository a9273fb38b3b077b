//! What a saga's input must hold, learned from the templates' `input.*` paths (each
//! with the shape of the field it fills), and the check of a given input against it.

use serde_json::Value;

use super::types::Shape;
use super::value::{PathTypes, ValueChecker};
use crate::path::{Path, Segment};
use crate::problem::Problem;
use crate::template::Node;

/// Every `input.*` path the definition reads, with the shape it must have there.
#[derive(Debug, Clone, Default)]
pub struct InputShape {
    uses: Vec<InputUse>,
}

#[derive(Debug, Clone)]
struct InputUse {
    path: Path,
    /// `None`: any JSON (read by the output template).
    shape: Option<Shape>,
    /// The template location that reads it.
    at: String,
}

impl InputShape {
    /// Records a use; one that cannot agree with an earlier use of the same path is a
    /// problem.
    pub(super) fn record(
        &mut self,
        path: &Path,
        shape: Option<Shape>,
        at: &str,
        problems: &mut Vec<Problem>,
    ) {
        let clash = self.uses.iter().find(|u| {
            u.path == *path && matches!((&u.shape, &shape), (Some(a), Some(b)) if !a.agrees(b))
        });
        if let (Some(earlier), Some(shape)) = (clash, &shape) {
            let was = earlier
                .shape
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            problems.push(Problem::new(
                at,
                format!("{path} is {shape} here but {was} at {}", earlier.at),
            ));
            return;
        }
        self.uses.push(InputUse {
            path: path.clone(),
            shape,
            at: at.to_string(),
        });
    }

    /// The input paths read, each once, in the order first read.
    pub fn paths(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for u in &self.uses {
            let text = u.path.to_string();
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
        seen
    }

    /// Every problem of a given input: a path the templates read that it lacks, or a
    /// value of a shape the field it fills cannot take.
    pub fn check(&self, input: &Value) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.uses.is_empty() && !input.is_object() {
            problems.push(Problem::new("input", "expected a JSON object"));
            return problems;
        }
        for u in &self.uses {
            let location = u.path.to_string();
            if problems.iter().any(|p| p.location == location) {
                continue;
            }
            match (find(input, &u.path.segments), &u.shape) {
                (None, _) => problems.push(Problem::new(
                    location,
                    format!("missing (read by {})", u.at),
                )),
                (Some(value), Some(shape)) => ValueChecker {
                    problems: &mut problems,
                    paths: &mut NoPaths,
                }
                .shaped(&Node::literal(value), shape, &location),
                (Some(_), None) => {}
            }
        }
        problems
    }
}

fn find<'v>(mut at: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    for segment in segments {
        at = match (segment, at) {
            (Segment::Field(name), Value::Object(map)) => map.get(name)?,
            (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

/// Given data has no paths.
struct NoPaths;

impl PathTypes for NoPaths {
    fn shape(&mut self, _: &Path, _: &str, _: &Shape) -> Option<Shape> {
        None
    }
}
