//! Whether a template (or given JSON) fits a request message: every key a field of it,
//! every value of the field's type, every path of a type that fits.

use prost_reflect::{Kind, MessageDescriptor};

use super::types::{KindName, Shape, integer_range, is_float, is_integer};
use crate::path::Path;
use crate::problem::Problem;
use crate::template::{Node, join};

/// The shape of what a path reads, as far as it is known (`None`: unknown or wrong,
/// the latter already reported).
pub trait PathTypes {
    fn shape(&mut self, path: &Path, at: &str, target: &Shape) -> Option<Shape>;
}

/// Checks nodes against message types, collecting problems.
pub struct ValueChecker<'a> {
    pub problems: &'a mut Vec<Problem>,
    pub paths: &'a mut dyn PathTypes,
}

impl ValueChecker<'_> {
    /// A whole request: an object of `message`'s fields (or a path to such a message).
    pub fn message(&mut self, node: &Node, message: &MessageDescriptor, at: &str) {
        self.one(node, &Kind::Message(message.clone()), at);
    }

    /// A value for a field of `shape`.
    pub fn shaped(&mut self, node: &Node, shape: &Shape, at: &str) {
        match (node, shape) {
            (Node::Value(path), _) => self.path(path, shape, at),
            (Node::Null, _) => {}
            (_, Shape::One(kind)) => self.one(node, kind, at),
            (Node::List(items), Shape::List(kind)) => {
                for (i, item) in items.iter().enumerate() {
                    self.one(item, kind, &format!("{at}[{i}]"));
                }
            }
            (Node::Object(entries), Shape::Map(kind)) => {
                for (key, value) in entries {
                    self.one(value, kind, &join(at, key));
                }
            }
            _ => self.wrong(at, shape, node),
        }
    }

    fn one(&mut self, node: &Node, kind: &Kind, at: &str) {
        let fits = match (node, kind) {
            (Node::Value(path), _) => {
                self.path(path, &Shape::One(kind.clone()), at);
                return;
            }
            (Node::Null, _) => true,
            (Node::Bool(_), Kind::Bool) => true,
            (Node::Number(n), k) if is_integer(k) => return self.integer(n, k, at),
            (Node::Number(_), k) if is_float(k) => true,
            (Node::Number(n), Kind::Enum(e)) => n
                .as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .is_some_and(|v| e.get_value(v).is_some()),
            (Node::Text(s), k) => return self.text(s, k, at),
            (Node::Interpolated(_), Kind::String | Kind::Bytes) => true,
            (Node::Object(entries), Kind::Message(m)) => return self.object(entries, m, at),
            _ => false,
        };
        if !fits {
            self.wrong(at, &Shape::One(kind.clone()), node);
        }
    }

    fn object(&mut self, entries: &[(String, Node)], message: &MessageDescriptor, at: &str) {
        if is_free_form(message) {
            return;
        }
        for (key, value) in entries {
            let field = message
                .get_field_by_name(key)
                .or_else(|| message.get_field_by_json_name(key));
            let here = join(at, key);
            match field {
                Some(field) => self.shaped(value, &Shape::of(&field), &here),
                None => self.problems.push(Problem::new(
                    here,
                    format!("{} has no field {key}", message.full_name()),
                )),
            }
        }
    }

    fn integer(&mut self, n: &serde_json::Number, kind: &Kind, at: &str) {
        let value = n.as_i128().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                .map(|f| f as i128)
        });
        let (low, high) = integer_range(kind);
        match value {
            Some(v) if (low..=high).contains(&v) => {}
            Some(v) => self.problems.push(Problem::new(
                at,
                format!("{v} is out of range for {}", KindName(kind)),
            )),
            None => self.problems.push(Problem::new(
                at,
                format!("{n} is not a whole number, as {} needs", KindName(kind)),
            )),
        }
    }

    /// A literal string: text, bytes, an enum value's name, a number in proto3 JSON's
    /// quoted form, or a well-known type written as a string.
    fn text(&mut self, s: &str, kind: &Kind, at: &str) {
        let problem = match kind {
            Kind::String | Kind::Bytes => None,
            Kind::Enum(e) if e.get_value_by_name(s).is_some() => None,
            Kind::Enum(e) => Some(format!("{s:?} is not a value of enum {}", e.full_name())),
            k if is_integer(k) => match s.parse::<i128>() {
                Ok(v) if (integer_range(k).0..=integer_range(k).1).contains(&v) => None,
                _ => Some(format!("{s:?} is not a {}", KindName(k))),
            },
            k if is_float(k) => match s.parse::<f64>() {
                Ok(_) => None,
                Err(_) => Some(format!("{s:?} is not a {}", KindName(k))),
            },
            Kind::Message(m) if is_written_as_text(m) => None,
            k => Some(format!("expected {}, found a string", KindName(k))),
        };
        if let Some(message) = problem {
            self.problems.push(Problem::new(at, message));
        }
    }

    fn path(&mut self, path: &Path, target: &Shape, at: &str) {
        let source = self.paths.shape(path, at, target);
        if let Some(source) = source.filter(|s| !s.fits(target)) {
            self.problems.push(Problem::new(
                at,
                format!("{path} is {source}, but the field is {target}"),
            ));
        }
    }

    fn wrong(&mut self, at: &str, shape: &Shape, node: &Node) {
        self.problems.push(Problem::new(
            at,
            format!("expected {shape}, found {}", describe(node)),
        ));
    }
}

/// Well-known types whose JSON is anything (no fields to check).
fn is_free_form(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Struct" | "google.protobuf.Value" | "google.protobuf.Any"
    )
}

/// Well-known types written as a JSON string (or a number, for the wrappers).
fn is_written_as_text(message: &MessageDescriptor) -> bool {
    message.full_name().starts_with("google.protobuf.")
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Bool(_) => "a boolean",
        Node::Number(_) => "a number",
        Node::Text(_) | Node::Interpolated(_) => "a string",
        Node::Value(_) => "a path",
        Node::List(_) => "a list",
        Node::Object(_) => "an object",
    }
}
