//! The records a transition appends to the durable saga log.

use super::state::SagaStatus;

/// What a log record is about: the saga as a whole or one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Saga,
    CreateOrder,
    CreateInvoice,
    ConfirmOrder,
    VoidInvoice,
    CancelOrder,
}

/// Whether a step goes forward or undoes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Action,
    Compensation,
}

/// What happened to the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Succeeded,
    Failed,
    RetryScheduled,
    /// A replica took the saga over (its lease had expired, or it is the replica's own
    /// saga at its start). Written by the store, never by a transition.
    Claimed,
}

impl Step {
    const ALL: [Step; 6] = [
        Step::Saga,
        Step::CreateOrder,
        Step::CreateInvoice,
        Step::ConfirmOrder,
        Step::VoidInvoice,
        Step::CancelOrder,
    ];

    /// The stored and shown spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Saga => "saga",
            Step::CreateOrder => "create_order",
            Step::CreateInvoice => "create_invoice",
            Step::ConfirmOrder => "confirm_order",
            Step::VoidInvoice => "void_invoice",
            Step::CancelOrder => "cancel_order",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// `None` for records about the saga as a whole.
    pub fn phase(self) -> Option<Phase> {
        match self {
            Step::Saga => None,
            Step::CreateOrder | Step::CreateInvoice | Step::ConfirmOrder => Some(Phase::Action),
            Step::VoidInvoice | Step::CancelOrder => Some(Phase::Compensation),
        }
    }
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Started,
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::RetryScheduled,
        Outcome::Claimed,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "STARTED",
            Outcome::Succeeded => "SUCCEEDED",
            Outcome::Failed => "FAILED",
            Outcome::RetryScheduled => "RETRY_SCHEDULED",
            Outcome::Claimed => "CLAIMED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// One record of the saga log, before the store gives it a sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub step: Step,
    pub outcome: Outcome,
    pub attempt: u32,
    pub detail: String,
    /// The saga's status once the record is committed.
    pub status: SagaStatus,
}
