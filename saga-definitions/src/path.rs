//! Paths into what a template may read: `saga.id`, `saga.idempotency_key`,
//! `input.<field>…` and `steps.<step>.output.<field>…`, with `[n]` for list elements.

use std::fmt;

/// One step down a path: a field by name, or a list element by index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Root {
    SagaId,
    IdempotencyKey,
    Input,
    /// The output message of the named step's action.
    StepOutput(String),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path {
    pub root: Root,
    pub segments: Vec<Segment>,
}

/// Why a path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error(
        "a path starts with saga.id, saga.idempotency_key, input. or steps.<step>.output, not {0:?}"
    )]
    UnknownRoot(String),
    #[error("{0:?} is not a field name (letters, digits and _, not starting with a digit)")]
    BadField(String),
    #[error("{0:?} is not a list index ([n], n a number)")]
    BadIndex(String),
    #[error("saga.{0} has no fields")]
    NoFields(&'static str),
}

impl Path {
    /// Parses the text between `${` and `}`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let segments = segments(text)?;
        let name = |i: usize| match segments.get(i) {
            Some(Segment::Field(f)) => Some(f.as_str()),
            _ => None,
        };
        let (root, rest) = match (name(0), name(1), name(2)) {
            (Some("saga"), Some("id"), _) => (Root::SagaId, 2),
            (Some("saga"), Some("idempotency_key"), _) => (Root::IdempotencyKey, 2),
            (Some("input"), _, _) => (Root::Input, 1),
            (Some("steps"), Some(step), Some("output")) => (Root::StepOutput(step.to_string()), 3),
            _ => return Err(PathError::UnknownRoot(text.to_string())),
        };
        let path = Path {
            root,
            segments: segments[rest..].to_vec(),
        };
        match (&path.root, path.segments.is_empty()) {
            (Root::SagaId, false) => Err(PathError::NoFields("id")),
            (Root::IdempotencyKey, false) => Err(PathError::NoFields("idempotency_key")),
            _ => Ok(path),
        }
    }

    /// The named step, for a path into a step's output.
    pub fn step(&self) -> Option<&str> {
        match &self.root {
            Root::StepOutput(step) => Some(step),
            _ => None,
        }
    }
}

/// Splits `a.b[2].c` into its segments.
fn segments(text: &str) -> Result<Vec<Segment>, PathError> {
    let mut out = Vec::new();
    for part in text.split('.') {
        let (field, mut indices) = match part.find('[') {
            Some(at) => part.split_at(at),
            None => (part, ""),
        };
        if !is_field_name(field) {
            return Err(PathError::BadField(part.to_string()));
        }
        out.push(Segment::Field(field.to_string()));
        while !indices.is_empty() {
            let bad = || PathError::BadIndex(part.to_string());
            let inner = indices.strip_prefix('[').ok_or_else(bad)?;
            let (number, rest) = inner.split_once(']').ok_or_else(bad)?;
            out.push(Segment::Index(number.parse().map_err(|_| bad())?));
            indices = rest;
        }
    }
    Ok(out)
}

fn is_field_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Root::SagaId => f.write_str("saga.id")?,
            Root::IdempotencyKey => f.write_str("saga.idempotency_key")?,
            Root::Input => f.write_str("input")?,
            Root::StepOutput(step) => write!(f, "steps.{step}.output")?,
        }
        for segment in &self.segments {
            match segment {
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Segment {
        Segment::Field(name.to_string())
    }

    #[test]
    fn every_root_parses_and_prints_back() {
        for text in [
            "saga.id",
            "saga.idempotency_key",
            "input",
            "input.items[0].sku",
            "steps.create_order.output",
            "steps.create_order.output.items[1][2].sku",
        ] {
            assert_eq!(
                Path::parse(text).map(|p| p.to_string()),
                Ok(text.to_string())
            );
        }
        let path = Path::parse("steps.reserve.output.ids[3]").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path.step(), Some("reserve"));
        assert_eq!(path.segments, vec![field("ids"), Segment::Index(3)]);
    }

    #[test]
    fn bad_paths_say_why() {
        assert_eq!(Path::parse(" "), Err(PathError::Empty));
        assert!(matches!(
            Path::parse("order.id"),
            Err(PathError::UnknownRoot(_))
        ));
        assert!(matches!(
            Path::parse("steps.x.input"),
            Err(PathError::UnknownRoot(_))
        ));
        assert!(matches!(
            Path::parse("input.a-b"),
            Err(PathError::BadField(_))
        ));
        assert!(matches!(
            Path::parse("input.a[x]"),
            Err(PathError::BadIndex(_))
        ));
        assert!(matches!(
            Path::parse("input.a[1"),
            Err(PathError::BadIndex(_))
        ));
        assert_eq!(Path::parse("saga.id.x"), Err(PathError::NoFields("id")));
    }
}
