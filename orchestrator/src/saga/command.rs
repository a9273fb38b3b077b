//! What the engine must do next for a saga, named in the imperative.

/// A participant call of the saga. Every call carries the saga id, which the
/// participant uses as its idempotency key together with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    CreateOrder,
    CreateInvoice {
        order_id: String,
    },
    ConfirmOrder {
        order_id: String,
    },
    /// `invoice_id` is `None` when the create's answer was lost.
    VoidInvoice {
        invoice_id: Option<String>,
    },
    /// `order_id` is `None` when the create's answer was lost.
    CancelOrder {
        order_id: Option<String>,
    },
}

/// The next thing to do; a transition yields at most one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Make the call now, as attempt `attempt`.
    Send { call: Call, attempt: u32 },
    /// Wait out the backoff after failed attempt `attempt` (the slow pace when
    /// `parked`), then report `RetryDue`.
    Backoff { attempt: u32, parked: bool },
}

impl Call {
    /// The log step this call is.
    pub fn step(&self) -> super::Step {
        use super::Step;
        match self {
            Call::CreateOrder => Step::CreateOrder,
            Call::CreateInvoice { .. } => Step::CreateInvoice,
            Call::ConfirmOrder { .. } => Step::ConfirmOrder,
            Call::VoidInvoice { .. } => Step::VoidInvoice,
            Call::CancelOrder { .. } => Step::CancelOrder,
        }
    }
}
