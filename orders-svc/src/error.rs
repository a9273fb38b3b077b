//! Why an orders call failed: the participants' shared error, with its one mapping to a
//! gRPC status, under the name this crate has always exported.
//!
//! Here `Refused` carries what an order's state forbids (a create after the saga's
//! cancel, a cancel of a confirmed order); `NotFound` names an `order`.

pub use service_kit::participant::ParticipantError as ApiError;
