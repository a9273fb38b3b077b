//! What can happen to a saga: a call's answer, a retry timer, a restart.

/// How a failed call ended, as far as the saga cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying; the call may or may not have taken effect (a timeout, a lost
    /// connection, UNAVAILABLE).
    Transient,
    /// A definite refusal: the call had no effect and retrying will not change that.
    Permanent,
}

/// An event in a saga's life, named in the past tense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    OrderCreated {
        order_id: String,
    },
    InvoiceIssued {
        invoice_id: String,
    },
    OrderConfirmed,
    InvoiceVoided,
    OrderCancelled,
    /// The step's call failed.
    CallFailed {
        failure: Failure,
        detail: String,
    },
    /// The backoff before the next attempt has passed.
    RetryDue,
    /// The orchestrator restarted and found the saga unfinished.
    Resumed,
}

impl Event {
    /// A short name for spans and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Event::OrderCreated { .. } => "OrderCreated",
            Event::InvoiceIssued { .. } => "InvoiceIssued",
            Event::OrderConfirmed => "OrderConfirmed",
            Event::InvoiceVoided => "InvoiceVoided",
            Event::OrderCancelled => "OrderCancelled",
            Event::CallFailed { .. } => "CallFailed",
            Event::RetryDue => "RetryDue",
            Event::Resumed => "Resumed",
        }
    }
}
