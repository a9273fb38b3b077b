//! Why an invoices call failed: the participants' shared error, with its one mapping to a
//! gRPC status, under the name this crate has always exported.
//!
//! Here `Refused` carries what an invoice's state forbids (a create after the saga's
//! void) and an amount over `--max-invoice-cents`; `NotFound` names an `invoice`.

pub use service_kit::participant::ParticipantError as ApiError;
