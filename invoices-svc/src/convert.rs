//! The gRPC edge's conversions: requests into validated domain values (each error names
//! the offending field), domain values back into wire messages.

use saga_contracts::invoices::v1 as proto;
use service_kit::paging;

use crate::domain::{Invoice, InvoiceFilter, InvoiceStatus, NewInvoice, VoidInvoice};
use crate::error::ApiError;

/// Longest accepted saga id, in bytes.
pub const MAX_SAGA_ID_BYTES: usize = 128;

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
            invoice_id: Some(request.invoice_id).filter(|id| !id.is_empty()),
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
        let after_seq = paging::decode_token(&request.page_token).map_err(|_| {
            ApiError::invalid("page_token", "is not a token returned by a previous call")
        })?;
        Ok(Self {
            order_id: Some(request.order_id).filter(|id| !id.is_empty()),
            customer_id: Some(request.customer_id).filter(|id| !id.is_empty()),
            status,
            saga_id: Some(request.saga_id).filter(|id| !id.is_empty()),
            after_seq,
            page_size: paging::page_size(request.page_size),
        })
    }
}

/// The invoice id of a `GetInvoice`, which must not be empty.
pub fn invoice_id(request: proto::GetInvoiceRequest) -> Result<String, ApiError> {
    required("invoice_id", request.invoice_id)
}

fn saga_id(value: String) -> Result<String, ApiError> {
    let value = required("saga_id", value)?;
    if value.len() > MAX_SAGA_ID_BYTES {
        return Err(ApiError::invalid(
            "saga_id",
            format!("must be at most {MAX_SAGA_ID_BYTES} bytes"),
        ));
    }
    Ok(value)
}

fn required(field: &str, value: String) -> Result<String, ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    Ok(value)
}

fn currency(value: String) -> Result<String, ApiError> {
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid(
            "currency",
            "must be three upper-case letters, e.g. EUR",
        ));
    }
    Ok(value)
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
