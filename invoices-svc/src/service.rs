//! The invoices operations: each mutating one is a single write transaction holding its
//! barrier step, its effect and its recorded answer, so a repeat replays the answer and a
//! refusal leaves no trace.

use prost::Message;
use saga_contracts::invoices::v1 as proto;
use service_kit::barrier::{self, Entry, Step, StepKind};
use service_kit::db::{Db, GroupWriter, Tx};
use service_kit::paging;
use tracing::info;

use crate::domain::{InvoiceFilter, InvoiceStatus, NewInvoice, VoidInvoice};
use crate::error::ApiError;
use crate::store;

const CREATE_INVOICE: &str = "create_invoice";
const VOID_INVOICE: &str = "void_invoice";

/// Issues the saga's invoice, or replays the first answer. Refused (nothing recorded)
/// when the amount is over `max_invoice_cents`, or once the saga's invoice was voided
/// (a tombstone).
pub async fn create_invoice(
    writer: &GroupWriter,
    new: NewInvoice,
    max_invoice_cents: i64,
) -> Result<proto::Invoice, ApiError> {
    writer
        .write(move |tx| Box::pin(create_invoice_in(tx, new, max_invoice_cents)))
        .await
}

async fn create_invoice_in(
    tx: &mut Tx,
    new: NewInvoice,
    max_invoice_cents: i64,
) -> Result<proto::Invoice, ApiError> {
    let saga_id = new.saga_id.clone();
    let step = Step {
        saga_id: &saga_id,
        op: CREATE_INVOICE,
        kind: StepKind::Action {
            undone_by: Some(VOID_INVOICE),
        },
    };
    match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => Ok(proto::Invoice::decode(first.as_slice())?),
        // NothingToUndo is only ever the answer to a compensation; refuse rather than act.
        Entry::AlreadyCompensated | Entry::NothingToUndo => Err(ApiError::Refused(
            "the saga's invoice was already voided".to_string(),
        )),
        Entry::First => {
            if new.amount_cents > max_invoice_cents {
                return Err(ApiError::Refused(format!(
                    "amount_cents {} is over the limit of {max_invoice_cents} cents",
                    new.amount_cents
                )));
            }
            let invoice = new.into_invoice(uuid::Uuid::new_v4().to_string());
            store::insert_invoice(&mut *tx, &invoice).await?;
            let answer = proto::Invoice::from(invoice);
            barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
            info!(invoice.id = %answer.invoice_id, amount_cents = answer.amount_cents, "invoice ISSUED");
            Ok(answer)
        }
    }
}

/// Voids the saga's invoice, or leaves a tombstone when the saga never issued one, or
/// replays the first answer.
pub async fn void_invoice(
    writer: &GroupWriter,
    void: VoidInvoice,
) -> Result<proto::VoidInvoiceResponse, ApiError> {
    writer
        .write(move |tx| Box::pin(void_invoice_in(tx, void)))
        .await
}

async fn void_invoice_in(
    tx: &mut Tx,
    void: VoidInvoice,
) -> Result<proto::VoidInvoiceResponse, ApiError> {
    let step = Step {
        saga_id: &void.saga_id,
        op: VOID_INVOICE,
        kind: StepKind::Compensation {
            undoes: CREATE_INVOICE,
        },
    };
    let answer = match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => {
            return Ok(proto::VoidInvoiceResponse::decode(first.as_slice())?);
        }
        // AlreadyCompensated is only ever the answer to an action; a compensation has
        // nothing to undo then either.
        Entry::NothingToUndo | Entry::AlreadyCompensated => {
            info!("no invoice to void; tombstone left");
            proto::VoidInvoiceResponse { invoice: None }
        }
        Entry::First => {
            let mut invoice = store::invoice_by_saga(&mut *tx, &void.saga_id)
                .await?
                .ok_or_else(|| ApiError::NotFound {
                    what: "invoice of saga",
                    id: void.saga_id.clone(),
                })?;
            if let Some(invoice_id) = void
                .invoice_id
                .as_ref()
                .filter(|id| **id != invoice.invoice_id)
            {
                return Err(ApiError::Refused(format!(
                    "invoice {invoice_id:?} is not the saga's invoice"
                )));
            }
            if invoice.status == InvoiceStatus::Issued {
                store::set_status(&mut *tx, &invoice.invoice_id, InvoiceStatus::Voided).await?;
                invoice.status = InvoiceStatus::Voided;
                info!(invoice.id = %invoice.invoice_id, "invoice VOIDED");
            }
            proto::VoidInvoiceResponse {
                invoice: Some(invoice.into()),
            }
        }
    };
    barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
    Ok(answer)
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
