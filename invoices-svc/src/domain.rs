//! The invoices participant's own types, apart from their wire (proto) and storage forms.

/// Where an invoice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Issued for a saga's order.
    Issued,
    /// Voided by the saga's compensation.
    Voided,
}

impl InvoiceStatus {
    const ALL: [Self; 2] = [Self::Issued, Self::Voided];

    /// The text stored in `invoices.status` (the only place that spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "ISSUED",
            Self::Voided => "VOIDED",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// An invoice as the participant keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub invoice_id: String,
    pub saga_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub status: InvoiceStatus,
}

/// A validated `CreateInvoice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvoice {
    pub saga_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount_cents: i64,
    pub currency: String,
}

impl NewInvoice {
    /// The ISSUED invoice this request creates, under a fresh id.
    pub fn into_invoice(self, invoice_id: String) -> Invoice {
        Invoice {
            invoice_id,
            saga_id: self.saga_id,
            order_id: self.order_id,
            customer_id: self.customer_id,
            amount_cents: self.amount_cents,
            currency: self.currency,
            status: InvoiceStatus::Issued,
        }
    }
}

/// A validated `VoidInvoice`; `invoice_id` is absent when the orchestrator never
/// learned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidInvoice {
    pub saga_id: String,
    pub invoice_id: Option<String>,
}

/// A validated `ListInvoices`: each filter absent means "any".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFilter {
    pub order_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<InvoiceStatus>,
    pub saga_id: Option<String>,
    /// Continue after this `seq` (absent: the first page).
    pub after_seq: Option<i64>,
    pub page_size: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_stored_text() {
        for status in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::from_stored(status.as_str()), Some(status));
        }
        assert_eq!(InvoiceStatus::from_stored("issued"), None);
    }
}
