//! The invoices table, in sqlx: one function per statement, each run inside the caller's
//! transaction on either backend (SQLite or PostgreSQL) with the same SQL.

use service_kit::db::{self, RowExt, Tx};
use service_kit::on_backend;
use sqlx::AssertSqlSafe;

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

/// Inserts new invoices, in one statement.
pub async fn insert_invoices(tx: &mut Tx, invoices: &[&Invoice]) -> Result<(), sqlx::Error> {
    if invoices.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO invoices (invoice_id, saga_id, order_id, customer_id, amount_cents,
                               currency, status, created_at_ms, updated_at_ms)
         VALUES {}",
        db::placeholder_rows(tx, 9, invoices.len(), 1)
    );
    let now_ms = db::now_ms();
    service_kit::write_later!(tx, sql.as_str(), values => {
        for invoice in invoices {
            values.bind(&invoice.invoice_id)?;
            values.bind(&invoice.saga_id)?;
            values.bind(&invoice.order_id)?;
            values.bind(&invoice.customer_id)?;
            values.bind(invoice.amount_cents)?;
            values.bind(&invoice.currency)?;
            values.bind(invoice.status.as_str())?;
            values.bind(now_ms)?;
            values.bind(now_ms)?;
        }
    })
    .map(drop)
}

/// Moves the invoices `invoice_ids` to `status`, in one statement.
pub async fn set_status(
    tx: &mut Tx,
    invoice_ids: &[&str],
    status: InvoiceStatus,
) -> Result<(), sqlx::Error> {
    if invoice_ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE invoices SET status = {}, updated_at_ms = {} WHERE invoice_id IN ({})",
        db::placeholder(tx, 1),
        db::placeholder(tx, 2),
        db::placeholder_list(tx, invoice_ids.len(), 3)
    );
    let now_ms = db::now_ms();
    service_kit::write_later!(tx, sql.as_str(), values => {
        values.bind(status.as_str())?;
        values.bind(now_ms)?;
        for invoice_id in invoice_ids {
            values.bind(*invoice_id)?;
        }
    })
    .map(drop)
}

/// The invoices the sagas `saga_ids` issued (at most one each).
pub async fn invoices_by_sagas(
    tx: &mut Tx,
    saga_ids: &[&str],
) -> Result<Vec<Invoice>, sqlx::Error> {
    if saga_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{} WHERE saga_id IN ({})",
        select_invoices!(),
        db::placeholder_list(tx, saga_ids.len(), 1)
    );
    on_backend!(tx, conn => {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for saga_id in saga_ids {
            query = query.bind(*saga_id);
        }
        let rows = query.fetch_all(conn).await?;
        rows.iter().map(invoice_from_row).collect()
    })
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
