//! The invoices table, in sqlx: one function per statement. Writes take the caller's
//! connection so they run inside its transaction; reads take any executor (the pool, or
//! the caller's transaction).

use sqlx::{SqliteConnection, SqliteExecutor};

use crate::domain::{Invoice, InvoiceFilter, InvoiceStatus};

/// One page of a listing, and the `seq` of its last row (to make the next page's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePage {
    pub invoices: Vec<Invoice>,
    pub last_seq: Option<i64>,
}

/// The columns every read selects, in [`InvoiceRow`]'s order.
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

/// The current time in milliseconds, computed by SQLite (no clock in the service).
macro_rules! now_ms {
    () => {
        "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
    };
}

#[derive(sqlx::FromRow)]
struct InvoiceRow {
    seq: i64,
    invoice_id: String,
    saga_id: String,
    order_id: String,
    customer_id: String,
    amount_cents: i64,
    currency: String,
    status: String,
}

impl TryFrom<InvoiceRow> for Invoice {
    type Error = sqlx::Error;

    fn try_from(row: InvoiceRow) -> Result<Self, sqlx::Error> {
        let status = InvoiceStatus::from_stored(&row.status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown invoice status {:?}", row.status).into())
        })?;
        Ok(Self {
            invoice_id: row.invoice_id,
            saga_id: row.saga_id,
            order_id: row.order_id,
            customer_id: row.customer_id,
            amount_cents: row.amount_cents,
            currency: row.currency,
            status,
        })
    }
}

/// Inserts a new invoice.
pub async fn insert_invoice(
    conn: &mut SqliteConnection,
    invoice: &Invoice,
) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO invoices (invoice_id, saga_id, order_id, customer_id, amount_cents,
                               currency, status, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ",
        now_ms!(),
        ", ",
        now_ms!(),
        ")"
    ))
    .bind(&invoice.invoice_id)
    .bind(&invoice.saga_id)
    .bind(&invoice.order_id)
    .bind(&invoice.customer_id)
    .bind(invoice.amount_cents)
    .bind(&invoice.currency)
    .bind(invoice.status.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an invoice to `status`.
pub async fn set_status(
    conn: &mut SqliteConnection,
    invoice_id: &str,
    status: InvoiceStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "UPDATE invoices SET status = ?1, updated_at_ms = ",
        now_ms!(),
        " WHERE invoice_id = ?2"
    ))
    .bind(status.as_str())
    .bind(invoice_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The invoice with id `invoice_id`, if any.
pub async fn invoice_by_id(
    db: impl SqliteExecutor<'_>,
    invoice_id: &str,
) -> Result<Option<Invoice>, sqlx::Error> {
    sqlx::query_as::<_, InvoiceRow>(select_invoices!("WHERE invoice_id = ?1"))
        .bind(invoice_id)
        .fetch_optional(db)
        .await?
        .map(Invoice::try_from)
        .transpose()
}

/// The invoice the saga `saga_id` issued, if any (at most one per saga).
pub async fn invoice_by_saga(
    db: impl SqliteExecutor<'_>,
    saga_id: &str,
) -> Result<Option<Invoice>, sqlx::Error> {
    sqlx::query_as::<_, InvoiceRow>(select_invoices!("WHERE saga_id = ?1"))
        .bind(saga_id)
        .fetch_optional(db)
        .await?
        .map(Invoice::try_from)
        .transpose()
}

/// One page of the invoices matching `filter`, in `seq` order.
pub async fn list_invoices(
    db: impl SqliteExecutor<'_>,
    filter: &InvoiceFilter,
) -> Result<InvoicePage, sqlx::Error> {
    let rows = sqlx::query_as::<_, InvoiceRow>(select_invoices!(
        "WHERE seq > ?1
           AND (?2 IS NULL OR order_id = ?2)
           AND (?3 IS NULL OR customer_id = ?3)
           AND (?4 IS NULL OR status = ?4)
           AND (?5 IS NULL OR saga_id = ?5)
         ORDER BY seq
         LIMIT ?6"
    ))
    .bind(filter.after_seq.unwrap_or(0))
    .bind(filter.order_id.as_deref())
    .bind(filter.customer_id.as_deref())
    .bind(filter.status.map(InvoiceStatus::as_str))
    .bind(filter.saga_id.as_deref())
    .bind(i64::from(filter.page_size))
    .fetch_all(db)
    .await?;
    let last_seq = rows.last().map(|row| row.seq);
    let invoices = rows
        .into_iter()
        .map(Invoice::try_from)
        .collect::<Result<_, _>>()?;
    Ok(InvoicePage { invoices, last_seq })
}
