//! The gRPC edge's conversions: requests into validated domain values (each error names
//! the offending field), domain values back into wire messages.

use saga_contracts::invoices::v1 as proto;
use service_kit::paging;
use service_kit::participant::validate::{currency, optional, page_token, required, saga_id};

use crate::domain::{Invoice, InvoiceFilter, InvoiceStatus, NewInvoice, VoidInvoice};
use crate::error::ApiError;

pub use service_kit::participant::validate::MAX_SAGA_ID_BYTES;

impl TryFrom<proto::CreateInvoiceRequest> for NewInvoice {
    type Error = ApiError;

    fn try_from(request: proto::CreateInvoiceRequest) -> Result<Self, ApiError> {
        let saga_id = saga_id(request.saga_id)?;
        let order_id = required("order_id", request.order_id)?;
        let customer_id = required("customer_id", request.customer_id)?;
        if request.amount_cents <= 0 {
            return Err(ApiError::invalid("amount_cents", "must be positive"));
        }
        let currency = currency(request.currency)?;
        Ok(Self {
            saga_id,
            order_id,
            customer_id,
            amount_cents: request.amount_cents,
            currency,
        })
    }
}

impl TryFrom<proto::VoidInvoiceRequest> for VoidInvoice {
    type Error = ApiError;

    fn try_from(request: proto::VoidInvoiceRequest) -> Result<Self, ApiError> {
        Ok(Self {
            saga_id: saga_id(request.saga_id)?,
            invoice_id: optional(request.invoice_id),
        })
    }
}

impl TryFrom<proto::ListInvoicesRequest> for InvoiceFilter {
    type Error = ApiError;

    fn try_from(request: proto::ListInvoicesRequest) -> Result<Self, ApiError> {
        let status = match proto::InvoiceStatus::try_from(request.status) {
            Ok(proto::InvoiceStatus::Unspecified) => None,
            Ok(proto::InvoiceStatus::Issued) => Some(InvoiceStatus::Issued),
            Ok(proto::InvoiceStatus::Voided) => Some(InvoiceStatus::Voided),
            Err(_) => return Err(ApiError::invalid("status", "is not a known invoice status")),
        };
        Ok(Self {
            order_id: optional(request.order_id),
            customer_id: optional(request.customer_id),
            status,
            saga_id: optional(request.saga_id),
            after_seq: page_token(&request.page_token)?,
            page_size: paging::page_size(request.page_size),
        })
    }
}

/// The invoice id of a `GetInvoice`, which must not be empty.
pub fn invoice_id(request: proto::GetInvoiceRequest) -> Result<String, ApiError> {
    required("invoice_id", request.invoice_id)
}

impl From<InvoiceStatus> for proto::InvoiceStatus {
    fn from(status: InvoiceStatus) -> Self {
        match status {
            InvoiceStatus::Issued => Self::Issued,
            InvoiceStatus::Voided => Self::Voided,
        }
    }
}

impl From<Invoice> for proto::Invoice {
    fn from(invoice: Invoice) -> Self {
        Self {
            invoice_id: invoice.invoice_id,
            order_id: invoice.order_id,
            customer_id: invoice.customer_id,
            amount_cents: invoice.amount_cents,
            currency: invoice.currency,
            status: proto::InvoiceStatus::from(invoice.status).into(),
            saga_id: invoice.saga_id,
        }
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
