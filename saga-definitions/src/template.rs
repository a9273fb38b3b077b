//! JSON templates of request messages: literal JSON, where a string that is exactly
//! `"${path}"` stands for the value at that path (with its JSON type) and `${path}`
//! inside a longer string is interpolated as text.

use serde_json::{Map, Value};

use crate::path::{Path, PathError, Root, Segment};

/// A parsed template: the JSON tree with its paths found.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
    /// `"${path}"`: the value itself.
    Value(Path),
    /// A string with `${path}`s inside: text.
    Interpolated(Vec<Piece>),
    List(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A part of an interpolated string.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Path(Path),
}

/// Why a template does not parse, and where inside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("{at}: {error}")]
    Path { at: String, error: PathError },
    #[error("{at}: `${{` without its closing `}}`")]
    Unclosed { at: String },
}

impl Node {
    /// Parses the template text (which must be JSON).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| TemplateError::Json(e.to_string()))?;
        Self::from_json(&value, "")
    }

    /// The template of a JSON value, `at` the location of `value` inside it.
    pub fn from_json(value: &Value, at: &str) -> Result<Self, TemplateError> {
        Ok(match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n.clone()),
            Value::String(s) => string(s, at)?,
            Value::Array(items) => Node::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Self::from_json(item, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Node::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::from_json(v, &join(at, k))?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// A JSON value taken as it is (no paths), to check given data like a template.
    pub fn literal(value: &Value) -> Self {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n.clone()),
            Value::String(s) => Node::Text(s.clone()),
            Value::Array(items) => Node::List(items.iter().map(Self::literal).collect()),
            Value::Object(map) => Node::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::literal(v)))
                    .collect(),
            ),
        }
    }

    /// Every path in the template, with its location inside it.
    pub fn paths(&self) -> Vec<(String, &Path)> {
        let mut out = Vec::new();
        self.collect_paths("", &mut out);
        out
    }

    fn collect_paths<'a>(&'a self, at: &str, out: &mut Vec<(String, &'a Path)>) {
        match self {
            Node::Value(path) => out.push((at.to_string(), path)),
            Node::Interpolated(pieces) => out.extend(pieces.iter().filter_map(|p| match p {
                Piece::Path(path) => Some((at.to_string(), path)),
                Piece::Text(_) => None,
            })),
            Node::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.collect_paths(&format!("{at}[{i}]"), out);
                }
            }
            Node::Object(entries) => {
                for (key, node) in entries {
                    node.collect_paths(&join(at, key), out);
                }
            }
            Node::Null | Node::Bool(_) | Node::Number(_) | Node::Text(_) => {}
        }
    }

    /// The JSON this template stands for, reading paths from `scope`.
    pub fn render(&self, scope: &dyn Scope) -> Result<Value, RenderError> {
        Ok(match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::Text(s) => Value::String(s.clone()),
            Node::Value(path) => lookup(scope, path)?,
            Node::Interpolated(pieces) => {
                let mut text = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => text.push_str(t),
                        Piece::Path(path) => push_text(&mut text, &lookup(scope, path)?),
                    }
                }
                Value::String(text)
            }
            Node::List(items) => Value::Array(
                items
                    .iter()
                    .map(|n| n.render(scope))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Object(entries) => {
                let mut map = Map::new();
                for (key, node) in entries {
                    map.insert(key.clone(), node.render(scope)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// What paths read while rendering.
pub trait Scope {
    fn saga_id(&self) -> &str;
    fn idempotency_key(&self) -> &str;
    fn input(&self) -> &Value;
    /// The output of the named step: `Some(Null)` when its outcome is unknown (its paths
    /// then yield `null`), `None` when the step has not run.
    fn step_output(&self, step: &str) -> Option<&Value>;
}

/// A path that reads nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{path}: missing")]
    Missing { path: String },
    #[error("{path}: step {step} has not run")]
    NotRun { path: String, step: String },
}

fn lookup(scope: &dyn Scope, path: &Path) -> Result<Value, RenderError> {
    let start = match &path.root {
        Root::SagaId => return Ok(Value::String(scope.saga_id().to_string())),
        Root::IdempotencyKey => return Ok(Value::String(scope.idempotency_key().to_string())),
        Root::Input => scope.input(),
        Root::StepOutput(step) => match scope.step_output(step) {
            Some(Value::Null) => return Ok(Value::Null),
            Some(output) => output,
            None => {
                return Err(RenderError::NotRun {
                    path: path.to_string(),
                    step: step.clone(),
                });
            }
        },
    };
    let mut at = start;
    for segment in &path.segments {
        let next = match (segment, at) {
            (Segment::Field(name), Value::Object(map)) => map.get(name),
            (Segment::Index(i), Value::Array(items)) => items.get(*i),
            _ => None,
        };
        at = match next {
            Some(value) => value,
            // Inside an output, an absent field is its default (proto3 leaves defaults
            // out); in the input it is a mistake of the caller.
            None if path.step().is_some() => return Ok(Value::Null),
            None => {
                return Err(RenderError::Missing {
                    path: path.to_string(),
                });
            }
        };
    }
    Ok(at.clone())
}

/// Appends a value as text: strings as they are, `null` as nothing, the rest as JSON.
fn push_text(text: &mut String, value: &Value) {
    match value {
        Value::String(s) => text.push_str(s),
        Value::Null => {}
        other => text.push_str(&other.to_string()),
    }
}

/// A JSON string of the template: a path, text with paths, or plain text.
fn string(s: &str, at: &str) -> Result<Node, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("${") {
        let (before, after) = rest.split_at(open);
        let Some(close) = after.find('}') else {
            return Err(TemplateError::Unclosed { at: at.to_string() });
        };
        if !before.is_empty() {
            pieces.push(Piece::Text(before.to_string()));
        }
        let path = Path::parse(&after[2..close]).map_err(|error| TemplateError::Path {
            at: at.to_string(),
            error,
        })?;
        pieces.push(Piece::Path(path));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(match pieces.as_slice() {
        [] => Node::Text(String::new()),
        [Piece::Text(t)] => Node::Text(t.clone()),
        [Piece::Path(p)] => Node::Value(p.clone()),
        _ => Node::Interpolated(pieces),
    })
}

/// `at.key`, or `key` at the top.
pub(crate) fn join(at: &str, key: &str) -> String {
    match at {
        "" => key.to_string(),
        _ => format!("{at}.{key}"),
    }
}

#[cfg(test)]
mod tests;
