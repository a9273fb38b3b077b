//! What a saga is at each point: one variant per step, holding exactly what is known.

use serde::{Deserialize, Serialize};

use super::command::Call;

/// The coarse status shown to clients and used to find unfinished sagas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaStatus {
    Running,
    Compensating,
    Completed,
    Compensated,
    /// A compensation failed for good (or the confirmation was refused): an operator
    /// must act.
    Failed,
}

impl SagaStatus {
    pub const ALL: [SagaStatus; 5] = [
        SagaStatus::Running,
        SagaStatus::Compensating,
        SagaStatus::Completed,
        SagaStatus::Compensated,
        SagaStatus::Failed,
    ];

    /// The stored spelling; the one place status text is written.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Running => "RUNNING",
            SagaStatus::Compensating => "COMPENSATING",
            SagaStatus::Completed => "COMPLETED",
            SagaStatus::Compensated => "COMPENSATED",
            SagaStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SagaStatus::Completed | SagaStatus::Compensated | SagaStatus::Failed
        )
    }
}

/// Where the current step's call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// 1 for the first call of the step.
    pub attempt: u32,
    /// When the step's first attempt started (engine clock, ms).
    pub started_ms: i64,
    /// A call is out (true) or the step waits for its retry (false).
    pub in_flight: bool,
    /// Some attempt ended without a definite "no": the step may have taken effect, so
    /// it must be compensated if the saga rolls back.
    pub maybe_applied: bool,
    /// The step keeps failing and is retried at a slow pace; an operator should look.
    #[serde(default)]
    pub parked: bool,
}

impl Progress {
    /// The first attempt of a step, sent at `now_ms`.
    pub fn first(now_ms: i64) -> Self {
        Self {
            attempt: 1,
            started_ms: now_ms,
            in_flight: true,
            maybe_applied: false,
            parked: false,
        }
    }
}

/// A saga's state. Non-terminal variants name the step in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SagaState {
    CreatingOrder {
        progress: Progress,
    },
    CreatingInvoice {
        order_id: String,
        progress: Progress,
    },
    ConfirmingOrder {
        order_id: String,
        invoice_id: String,
        progress: Progress,
    },
    Completed {
        order_id: String,
        invoice_id: String,
    },
    VoidingInvoice {
        order_id: String,
        invoice_id: Option<String>,
        progress: Progress,
        cause: String,
    },
    CancellingOrder {
        order_id: Option<String>,
        invoice_id: Option<String>,
        progress: Progress,
        cause: String,
    },
    Compensated {
        order_id: Option<String>,
        invoice_id: Option<String>,
        cause: String,
    },
    Failed {
        order_id: Option<String>,
        invoice_id: Option<String>,
        cause: String,
    },
}

impl SagaState {
    pub fn status(&self) -> SagaStatus {
        match self {
            SagaState::CreatingOrder { .. }
            | SagaState::CreatingInvoice { .. }
            | SagaState::ConfirmingOrder { .. } => SagaStatus::Running,
            SagaState::VoidingInvoice { .. } | SagaState::CancellingOrder { .. } => {
                SagaStatus::Compensating
            }
            SagaState::Completed { .. } => SagaStatus::Completed,
            SagaState::Compensated { .. } => SagaStatus::Compensated,
            SagaState::Failed { .. } => SagaStatus::Failed,
        }
    }

    /// The call of the step in progress and where it stands; `None` once ended.
    pub fn pending(&self) -> Option<(Call, Progress)> {
        match self {
            SagaState::CreatingOrder { progress } => Some((Call::CreateOrder, *progress)),
            SagaState::CreatingInvoice { order_id, progress } => Some((
                Call::CreateInvoice {
                    order_id: order_id.clone(),
                },
                *progress,
            )),
            SagaState::ConfirmingOrder {
                order_id, progress, ..
            } => Some((
                Call::ConfirmOrder {
                    order_id: order_id.clone(),
                },
                *progress,
            )),
            SagaState::VoidingInvoice {
                invoice_id,
                progress,
                ..
            } => Some((
                Call::VoidInvoice {
                    invoice_id: invoice_id.clone(),
                },
                *progress,
            )),
            SagaState::CancellingOrder {
                order_id, progress, ..
            } => Some((
                Call::CancelOrder {
                    order_id: order_id.clone(),
                },
                *progress,
            )),
            SagaState::Completed { .. }
            | SagaState::Compensated { .. }
            | SagaState::Failed { .. } => None,
        }
    }

    pub fn order_id(&self) -> Option<&str> {
        match self {
            SagaState::CreatingOrder { .. } => None,
            SagaState::CreatingInvoice { order_id, .. }
            | SagaState::ConfirmingOrder { order_id, .. }
            | SagaState::Completed { order_id, .. }
            | SagaState::VoidingInvoice { order_id, .. } => Some(order_id),
            SagaState::CancellingOrder { order_id, .. }
            | SagaState::Compensated { order_id, .. }
            | SagaState::Failed { order_id, .. } => order_id.as_deref(),
        }
    }

    pub fn invoice_id(&self) -> Option<&str> {
        match self {
            SagaState::CreatingOrder { .. } | SagaState::CreatingInvoice { .. } => None,
            SagaState::ConfirmingOrder { invoice_id, .. }
            | SagaState::Completed { invoice_id, .. } => Some(invoice_id),
            SagaState::VoidingInvoice { invoice_id, .. }
            | SagaState::CancellingOrder { invoice_id, .. }
            | SagaState::Compensated { invoice_id, .. }
            | SagaState::Failed { invoice_id, .. } => invoice_id.as_deref(),
        }
    }

    /// Why the saga rolled back or failed; `None` while it goes forward or once it
    /// completed.
    pub fn cause(&self) -> Option<&str> {
        match self {
            SagaState::VoidingInvoice { cause, .. }
            | SagaState::CancellingOrder { cause, .. }
            | SagaState::Compensated { cause, .. }
            | SagaState::Failed { cause, .. } => Some(cause),
            SagaState::CreatingOrder { .. }
            | SagaState::CreatingInvoice { .. }
            | SagaState::ConfirmingOrder { .. }
            | SagaState::Completed { .. } => None,
        }
    }
}

impl SagaState {
    /// The same state with the step's progress replaced; terminal states are returned
    /// unchanged.
    pub fn with_progress(&self, new: Progress) -> SagaState {
        let mut next = self.clone();
        match &mut next {
            SagaState::CreatingOrder { progress }
            | SagaState::CreatingInvoice { progress, .. }
            | SagaState::ConfirmingOrder { progress, .. }
            | SagaState::VoidingInvoice { progress, .. }
            | SagaState::CancellingOrder { progress, .. } => *progress = new,
            SagaState::Completed { .. }
            | SagaState::Compensated { .. }
            | SagaState::Failed { .. } => {}
        }
        next
    }

    /// The variant's name, for spans and errors.
    pub fn name(&self) -> &'static str {
        match self {
            SagaState::CreatingOrder { .. } => "CreatingOrder",
            SagaState::CreatingInvoice { .. } => "CreatingInvoice",
            SagaState::ConfirmingOrder { .. } => "ConfirmingOrder",
            SagaState::Completed { .. } => "Completed",
            SagaState::VoidingInvoice { .. } => "VoidingInvoice",
            SagaState::CancellingOrder { .. } => "CancellingOrder",
            SagaState::Compensated { .. } => "Compensated",
            SagaState::Failed { .. } => "Failed",
        }
    }
}
