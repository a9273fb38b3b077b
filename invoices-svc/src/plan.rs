//! The invoices' saga calls (create, void) as a write plan: a batch reads the invoices
//! its voids name with one statement, each call is decided in memory over them (seeing
//! what the calls before it in the batch decided), and the batch writes its new
//! invoices and its voids with one statement each. The rules are those of each call
//! alone: see [`crate::service`].

use prost::Message;
use saga_contracts::invoices::v1 as proto;
use service_kit::barrier::{Entry, Step, StepKind};
use service_kit::db::{GroupWriter, Tx, TxFuture};
use service_kit::write_plan::{BySaga, Records, WritePlan};
use tracing::info;

use crate::domain::{Invoice, InvoiceStatus, NewInvoice, VoidInvoice};
use crate::error::ApiError;
use crate::store;

const CREATE_INVOICE: &str = "create_invoice";
const VOID_INVOICE: &str = "void_invoice";

/// The invoices participant's writer.
pub type Writer = GroupWriter<InvoicesPlan>;

/// A saga's call on its invoice.
#[derive(Debug)]
pub enum Call {
    Create(NewInvoice),
    Void(VoidInvoice),
}

/// The plan of the invoices participant's saga calls; no invoice is issued over
/// `max_invoice_cents`.
#[derive(Debug)]
pub struct InvoicesPlan {
    pub max_invoice_cents: i64,
}

/// A batch's invoices, by saga: those it read and those it issued, and what changed.
#[derive(Debug, Default)]
pub struct View {
    slots: BySaga<Slot>,
}

#[derive(Debug)]
struct Slot {
    invoice: Invoice,
    issued_here: bool,
    voided_here: bool,
}

impl WritePlan for InvoicesPlan {
    type Request = Call;
    type Error = ApiError;
    type View = View;

    fn step(call: &Call) -> Step<'_> {
        match call {
            Call::Create(new) => Step {
                saga_id: &new.saga_id,
                op: CREATE_INVOICE,
                kind: StepKind::Action {
                    undone_by: Some(VOID_INVOICE),
                },
            },
            Call::Void(void) => Step {
                saga_id: &void.saga_id,
                op: VOID_INVOICE,
                kind: StepKind::Compensation {
                    undoes: CREATE_INVOICE,
                },
            },
        }
    }

    fn read<'t>(
        &'t self,
        tx: &'t mut Tx,
        calls: &'t [Call],
    ) -> TxFuture<'t, Result<View, sqlx::Error>> {
        Box::pin(async move {
            let sagas: Vec<&str> = calls
                .iter()
                .filter_map(|call| match call {
                    Call::Void(void) => Some(void.saga_id.as_str()),
                    Call::Create(_) => None,
                })
                .collect();
            let mut view = View::default();
            for invoice in store::invoices_by_sagas(tx, &sagas).await? {
                view.add(invoice, false);
            }
            Ok(view)
        })
    }

    fn decide(
        &self,
        view: &mut View,
        _: &Records,
        call: Call,
        entry: Entry,
    ) -> Result<Vec<u8>, ApiError> {
        match call {
            Call::Create(new) => self.create(view, new, entry),
            Call::Void(void) => void_invoice(view, &void, entry),
        }
    }

    fn write<'t>(&'t self, tx: &'t mut Tx, view: View) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let issued: Vec<&Invoice> = view
                .slots
                .iter()
                .filter(|slot| slot.issued_here)
                .map(|slot| &slot.invoice)
                .collect();
            store::insert_invoices(tx, &issued).await?;
            let voided: Vec<&str> = view
                .slots
                .iter()
                .filter(|slot| slot.voided_here && !slot.issued_here)
                .map(|slot| slot.invoice.invoice_id.as_str())
                .collect();
            store::set_status(tx, &voided, InvoiceStatus::Voided).await
        })
    }
}

impl View {
    fn add(&mut self, invoice: Invoice, issued_here: bool) {
        let saga_id = invoice.saga_id.clone();
        let slot = Slot {
            invoice,
            issued_here,
            voided_here: false,
        };
        self.slots.add(&saga_id, slot);
    }
}

impl InvoicesPlan {
    /// Issues the saga's invoice; refused over the limit, or once the saga's invoice was
    /// voided (a tombstone).
    fn create(&self, view: &mut View, new: NewInvoice, entry: Entry) -> Result<Vec<u8>, ApiError> {
        if entry != Entry::First {
            // NothingToUndo is only ever the answer to a compensation; refuse rather than act.
            return Err(ApiError::Refused(
                "the saga's invoice was already voided".to_string(),
            ));
        }
        if new.amount_cents > self.max_invoice_cents {
            return Err(ApiError::Refused(format!(
                "amount_cents {} is over the limit of {} cents",
                new.amount_cents, self.max_invoice_cents
            )));
        }
        let invoice = new.into_invoice(uuid::Uuid::new_v4().to_string());
        let answer = proto::Invoice::from(invoice.clone());
        info!(invoice.id = %answer.invoice_id, amount_cents = answer.amount_cents, "invoice ISSUED");
        view.add(invoice, true);
        Ok(answer.encode_to_vec())
    }
}

/// Voids the saga's invoice, or leaves a tombstone when the saga never issued one.
fn void_invoice(view: &mut View, void: &VoidInvoice, entry: Entry) -> Result<Vec<u8>, ApiError> {
    if entry != Entry::First {
        // AlreadyCompensated is only ever the answer to an action; a compensation has
        // nothing to undo then either.
        info!("no invoice to void; tombstone left");
        return Ok(proto::VoidInvoiceResponse { invoice: None }.encode_to_vec());
    }
    let slot = view
        .slots
        .get_mut(&void.saga_id)
        .ok_or_else(|| ApiError::NotFound {
            what: "invoice of saga",
            id: void.saga_id.clone(),
        })?;
    if let Some(invoice_id) = void
        .invoice_id
        .as_ref()
        .filter(|id| **id != slot.invoice.invoice_id)
    {
        return Err(ApiError::Refused(format!(
            "invoice {invoice_id:?} is not the saga's invoice"
        )));
    }
    if slot.invoice.status == InvoiceStatus::Issued {
        slot.invoice.status = InvoiceStatus::Voided;
        slot.voided_here = true;
        info!(invoice.id = %slot.invoice.invoice_id, "invoice VOIDED");
    }
    Ok(proto::VoidInvoiceResponse {
        invoice: Some(slot.invoice.clone().into()),
    }
    .encode_to_vec())
}
