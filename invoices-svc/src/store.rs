//! The invoices table, in sqlx: one function per statement, each run inside the caller's
//! transaction on either backend (SQLite or PostgreSQL) with the same SQL.

use service_kit::db::{self, RowExt, Tx};
use service_kit::on_backend;

use crate::domain::{Invoice, InvoiceFilter, InvoiceStatus};

/// One page of a listing, and the `seq` of its last row (to make the next page's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePage {
    pub invoices: Vec<Invoice>,
    pub last_seq: Option<i64>,
}

/// The columns every read selects, as `invoice_from_row` reads them.
macro_rules! select_invoices {
    ($($rest:literal),*) => {
        concat!(
            "SELECT seq, invoice_id, saga_id, order_id, customer_id, amount_cents, currency,
                    status
             FROM invoices ",
            $($rest),*
        )
    };
}

/// Inserts a new invoice.
pub async fn insert_invoice(tx: &mut Tx, invoice: &Invoice) -> Result<(), sqlx::Error> {
    let now_ms = db::now_ms();
    on_backend!(tx, conn => sqlx::query(
        "INSERT INTO invoices (invoice_id, saga_id, order_id, customer_id, amount_cents,
                               currency, status, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&invoice.invoice_id)
    .bind(&invoice.saga_id)
    .bind(&invoice.order_id)
    .bind(&invoice.customer_id)
    .bind(invoice.amount_cents)
    .bind(&invoice.currency)
    .bind(invoice.status.as_str())
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Moves an invoice to `status`.
pub async fn set_status(
    tx: &mut Tx,
    invoice_id: &str,
    status: InvoiceStatus,
) -> Result<(), sqlx::Error> {
    let now_ms = db::now_ms();
    on_backend!(tx, conn => sqlx::query(
        "UPDATE invoices SET status = $1, updated_at_ms = $2 WHERE invoice_id = $3",
    )
    .bind(status.as_str())
    .bind(now_ms)
    .bind(invoice_id)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The invoice with id `invoice_id`, if any.
pub async fn invoice_by_id(tx: &mut Tx, invoice_id: &str) -> Result<Option<Invoice>, sqlx::Error> {
    on_backend!(tx, conn => {
        let row = sqlx::query(select_invoices!("WHERE invoice_id = $1"))
            .bind(invoice_id)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(invoice_from_row).transpose()
    })
}

/// The invoice the saga `saga_id` issued, if any (at most one per saga).
pub async fn invoice_by_saga(tx: &mut Tx, saga_id: &str) -> Result<Option<Invoice>, sqlx::Error> {
    on_backend!(tx, conn => {
        let row = sqlx::query(select_invoices!("WHERE saga_id = $1"))
            .bind(saga_id)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(invoice_from_row).transpose()
    })
}

/// One page of the invoices matching `filter`, in `seq` order.
pub async fn list_invoices(
    tx: &mut Tx,
    filter: &InvoiceFilter,
) -> Result<InvoicePage, sqlx::Error> {
    let rows = on_backend!(tx, conn => {
        let rows = sqlx::query(select_invoices!(
            "WHERE seq > $1
               AND ($2 IS NULL OR order_id = $2)
               AND ($3 IS NULL OR customer_id = $3)
               AND ($4 IS NULL OR status = $4)
               AND ($5 IS NULL OR saga_id = $5)
             ORDER BY seq
             LIMIT $6"
        ))
        .bind(filter.after_seq.unwrap_or(0))
        .bind(filter.order_id.as_deref())
        .bind(filter.customer_id.as_deref())
        .bind(filter.status.map(InvoiceStatus::as_str))
        .bind(filter.saga_id.as_deref())
        .bind(i64::from(filter.page_size))
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| Ok((row.int("seq")?, invoice_from_row(row)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
    })?;
    let last_seq = rows.last().map(|(seq, _)| *seq);
    let invoices = rows.into_iter().map(|(_, invoice)| invoice).collect();
    Ok(InvoicePage { invoices, last_seq })
}

/// The invoice a row of `select_invoices!` holds.
fn invoice_from_row(row: &impl RowExt) -> Result<Invoice, sqlx::Error> {
    let status = row.text("status")?;
    let status = InvoiceStatus::from_stored(&status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown invoice status {status:?}").into()))?;
    Ok(Invoice {
        invoice_id: row.text("invoice_id")?,
        saga_id: row.text("saga_id")?,
        order_id: row.text("order_id")?,
        customer_id: row.text("customer_id")?,
        amount_cents: row.int("amount_cents")?,
        currency: row.text("currency")?,
        status,
    })
}
