//! The invoices operations: each mutating one is decided with the other calls of its
//! batch ([`crate::plan`]) and commits its barrier step, its effect and its recorded
//! answer together, so a repeat replays the answer and a refusal leaves no trace.

use prost::Message;
use saga_contracts::invoices::v1 as proto;
use service_kit::db::Db;
use service_kit::paging;

use crate::domain::{InvoiceFilter, NewInvoice, VoidInvoice};
use crate::error::ApiError;
use crate::plan::{Call, Writer};
use crate::store;

/// Issues the saga's invoice, or replays the first answer. Refused (nothing recorded)
/// when the amount is over the plan's `max_invoice_cents`, or once the saga's invoice
/// was voided (a tombstone).
pub async fn create_invoice(writer: &Writer, new: NewInvoice) -> Result<proto::Invoice, ApiError> {
    let answer = writer.planned(Call::Create(new)).await?;
    Ok(proto::Invoice::decode(answer.as_slice())?)
}

/// Voids the saga's invoice, or leaves a tombstone when the saga never issued one, or
/// replays the first answer.
pub async fn void_invoice(
    writer: &Writer,
    void: VoidInvoice,
) -> Result<proto::VoidInvoiceResponse, ApiError> {
    let answer = writer.planned(Call::Void(void)).await?;
    Ok(proto::VoidInvoiceResponse::decode(answer.as_slice())?)
}

/// The invoice with id `invoice_id`.
pub async fn get_invoice(db: &Db, invoice_id: &str) -> Result<proto::Invoice, ApiError> {
    let mut tx = db.begin_read().await?;
    let invoice = store::invoice_by_id(&mut tx, invoice_id).await?;
    tx.commit().await?;
    let invoice = invoice.ok_or_else(|| ApiError::NotFound {
        what: "invoice",
        id: invoice_id.to_string(),
    })?;
    Ok(invoice.into())
}

/// One page of the invoices matching `filter`.
pub async fn list_invoices(
    db: &Db,
    filter: InvoiceFilter,
) -> Result<proto::ListInvoicesResponse, ApiError> {
    let mut tx = db.begin_read().await?;
    let page = store::list_invoices(&mut tx, &filter).await?;
    tx.commit().await?;
    let next_page_token = paging::next_token(page.invoices.len(), filter.page_size, page.last_seq);
    Ok(proto::ListInvoicesResponse {
        invoices: page.invoices.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
