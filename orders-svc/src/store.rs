//! The orders table, in sqlx: one function per statement, each run inside the caller's
//! transaction on either backend (SQLite or PostgreSQL) with the same SQL.

use service_kit::db::{self, RowExt, Tx};
use service_kit::on_backend;

use crate::domain::{LineItem, Order, OrderFilter, OrderStatus};

/// One page of a listing, and the `seq` of its last row (to make the next page's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub last_seq: Option<i64>,
}

/// The columns every read selects, as `order_from_row` reads them.
macro_rules! select_orders {
    ($($rest:literal),*) => {
        concat!(
            "SELECT seq, order_id, saga_id, customer_id, items, total_cents, currency, status
             FROM orders ",
            $($rest),*
        )
    };
}

/// Inserts a new order.
pub async fn insert_order(tx: &mut Tx, order: &Order) -> Result<(), sqlx::Error> {
    let items =
        serde_json::to_string(&order.items).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let now_ms = db::now_ms();
    on_backend!(tx, conn => sqlx::query(
        "INSERT INTO orders (order_id, saga_id, customer_id, items, total_cents, currency,
                             status, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&order.order_id)
    .bind(&order.saga_id)
    .bind(&order.customer_id)
    .bind(&items)
    .bind(order.total_cents)
    .bind(&order.currency)
    .bind(order.status.as_str())
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Moves an order to `status`.
pub async fn set_status(
    tx: &mut Tx,
    order_id: &str,
    status: OrderStatus,
) -> Result<(), sqlx::Error> {
    let now_ms = db::now_ms();
    on_backend!(tx, conn => sqlx::query(
        "UPDATE orders SET status = $1, updated_at_ms = $2 WHERE order_id = $3",
    )
    .bind(status.as_str())
    .bind(now_ms)
    .bind(order_id)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The order with id `order_id`, if any.
pub async fn order_by_id(tx: &mut Tx, order_id: &str) -> Result<Option<Order>, sqlx::Error> {
    on_backend!(tx, conn => {
        let row = sqlx::query(select_orders!("WHERE order_id = $1"))
            .bind(order_id)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    })
}

/// The order the saga `saga_id` created, if any (at most one per saga).
pub async fn order_by_saga(tx: &mut Tx, saga_id: &str) -> Result<Option<Order>, sqlx::Error> {
    on_backend!(tx, conn => {
        let row = sqlx::query(select_orders!("WHERE saga_id = $1"))
            .bind(saga_id)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    })
}

/// One page of the orders matching `filter`, in `seq` order.
pub async fn list_orders(tx: &mut Tx, filter: &OrderFilter) -> Result<OrderPage, sqlx::Error> {
    let rows = on_backend!(tx, conn => {
        let rows = sqlx::query(select_orders!(
            "WHERE seq > $1
               AND ($2 IS NULL OR customer_id = $2)
               AND ($3 IS NULL OR status = $3)
               AND ($4 IS NULL OR saga_id = $4)
             ORDER BY seq
             LIMIT $5"
        ))
        .bind(filter.after_seq.unwrap_or(0))
        .bind(filter.customer_id.as_deref())
        .bind(filter.status.map(OrderStatus::as_str))
        .bind(filter.saga_id.as_deref())
        .bind(i64::from(filter.page_size))
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| Ok((row.int("seq")?, order_from_row(row)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
    })?;
    let last_seq = rows.last().map(|(seq, _)| *seq);
    let orders = rows.into_iter().map(|(_, order)| order).collect();
    Ok(OrderPage { orders, last_seq })
}

/// The order a row of `select_orders!` holds.
fn order_from_row(row: &impl RowExt) -> Result<Order, sqlx::Error> {
    let status = row.text("status")?;
    let status = OrderStatus::from_stored(&status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown order status {status:?}").into()))?;
    let items: Vec<LineItem> =
        serde_json::from_str(&row.text("items")?).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Order {
        order_id: row.text("order_id")?,
        saga_id: row.text("saga_id")?,
        customer_id: row.text("customer_id")?,
        items,
        total_cents: row.int("total_cents")?,
        currency: row.text("currency")?,
        status,
    })
}
