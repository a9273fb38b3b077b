//! Saga definitions as data. A definition names participants' gRPC methods and builds
//! each request from the saga's input and earlier steps' outputs with JSON templates;
//! [`check`] finds every problem in one against the participants' protobuf schemas
//! before it is registered, and [`Node::render`] builds the requests while a saga runs.

pub mod check;
pub mod digest;
pub mod file;
pub mod kept;
pub mod machine;
pub mod model;
pub mod path;
pub mod problem;
pub mod request;
pub mod template;

pub use check::{Checked, InputShape, Schemas, check};
pub use digest::{canonical, digest, digest_of_body};
pub use kept::KeptFields;
pub use model::{CallDef, Definition, Kind, MethodName, Retry, StepDef};
pub use path::{Path, Root, Segment};
pub use problem::{Problem, describe};
pub use template::{Node, RenderError, Scope};
