//! The protobuf shape a value must have, or a path has, and which shapes fit which.

use std::fmt;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// How deep message types are compared field by field.
const MAX_DEPTH: usize = 8;

/// A field's shape: one value, a list, or a map (by its values' kind).
#[derive(Clone, PartialEq, Eq)]
pub enum Shape {
    One(Kind),
    List(Kind),
    Map(Kind),
}

impl Shape {
    pub fn of(field: &FieldDescriptor) -> Self {
        if let (true, Kind::Message(entry)) = (field.is_map(), field.kind()) {
            return Shape::Map(entry.map_entry_value_field().kind());
        }
        match field.is_list() {
            true => Shape::List(field.kind()),
            false => Shape::One(field.kind()),
        }
    }

    /// Whether a value of shape `self` (a path's) may fill a field of shape `target`.
    pub fn fits(&self, target: &Shape) -> bool {
        match (self, target) {
            (Shape::One(a), Shape::One(b))
            | (Shape::List(a), Shape::List(b))
            | (Shape::Map(a), Shape::Map(b)) => kind_fits(a, b, 0),
            _ => false,
        }
    }

    /// Whether two uses of one input path can both be satisfied.
    pub fn agrees(&self, other: &Shape) -> bool {
        self.fits(other) || other.fits(self)
    }
}

/// Whether a value of kind `a` may fill a field of kind `b` (proto3 JSON in between).
fn kind_fits(a: &Kind, b: &Kind, depth: usize) -> bool {
    match (a, b) {
        (a, b) if is_integer(a) && (is_integer(b) || is_float(b)) => true,
        (a, b) if is_float(a) && is_float(b) => true,
        (Kind::String, Kind::String)
        | (Kind::Bytes, Kind::Bytes)
        | (Kind::Bool, Kind::Bool)
        | (Kind::Enum(_), Kind::String) => true,
        (Kind::Enum(x), Kind::Enum(y)) => x.full_name() == y.full_name(),
        (Kind::Message(x), Kind::Message(y)) => message_fits(x, y, depth),
        _ => false,
    }
}

/// The same type, or every field of `from` found in `to` with a shape that fits: the
/// JSON of a `from` then reads as a `to`.
fn message_fits(from: &MessageDescriptor, to: &MessageDescriptor, depth: usize) -> bool {
    if from.full_name() == to.full_name() {
        return true;
    }
    if depth >= MAX_DEPTH {
        return false;
    }
    from.fields().all(|f| {
        to.get_field_by_name(f.name()).is_some_and(|t| {
            let (a, b) = (Shape::of(&f), Shape::of(&t));
            match (&a, &b) {
                (Shape::One(x), Shape::One(y))
                | (Shape::List(x), Shape::List(y))
                | (Shape::Map(x), Shape::Map(y)) => kind_fits(x, y, depth + 1),
                _ => false,
            }
        })
    })
}

pub fn is_integer(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Sint32
            | Kind::Sint64
            | Kind::Fixed32
            | Kind::Fixed64
            | Kind::Sfixed32
            | Kind::Sfixed64
    )
}

pub fn is_float(kind: &Kind) -> bool {
    matches!(kind, Kind::Double | Kind::Float)
}

/// The range of an integer kind.
pub fn integer_range(kind: &Kind) -> (i128, i128) {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => (i32::MIN.into(), i32::MAX.into()),
        Kind::Uint32 | Kind::Fixed32 => (0, u32::MAX.into()),
        Kind::Uint64 | Kind::Fixed64 => (0, u64::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    }
}

/// The protobuf spelling of a kind, for messages.
pub struct KindName<'a>(pub &'a Kind);

impl fmt::Display for KindName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Kind::Double => "double",
            Kind::Float => "float",
            Kind::Int32 => "int32",
            Kind::Int64 => "int64",
            Kind::Uint32 => "uint32",
            Kind::Uint64 => "uint64",
            Kind::Sint32 => "sint32",
            Kind::Sint64 => "sint64",
            Kind::Fixed32 => "fixed32",
            Kind::Fixed64 => "fixed64",
            Kind::Sfixed32 => "sfixed32",
            Kind::Sfixed64 => "sfixed64",
            Kind::Bool => "bool",
            Kind::String => "string",
            Kind::Bytes => "bytes",
            Kind::Message(m) => return write!(f, "message {}", m.full_name()),
            Kind::Enum(e) => return write!(f, "enum {}", e.full_name()),
        };
        f.write_str(name)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::One(k) => write!(f, "{}", KindName(k)),
            Shape::List(k) => write!(f, "a list of {}", KindName(k)),
            Shape::Map(k) => write!(f, "a map of {}", KindName(k)),
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
