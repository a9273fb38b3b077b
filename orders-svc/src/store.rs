//! The orders table, in sqlx: one function per statement. Writes take the caller's
//! connection so they run inside its transaction; reads take any executor (the pool, or
//! the caller's transaction).

use sqlx::{SqliteConnection, SqliteExecutor};

use crate::domain::{LineItem, Order, OrderFilter, OrderStatus};

/// One page of a listing, and the `seq` of its last row (to make the next page's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub last_seq: Option<i64>,
}

/// The columns every read selects, in [`OrderRow`]'s order.
macro_rules! select_orders {
    ($($rest:literal),*) => {
        concat!(
            "SELECT seq, order_id, saga_id, customer_id, items, total_cents, currency, status
             FROM orders ",
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
struct OrderRow {
    seq: i64,
    order_id: String,
    saga_id: String,
    customer_id: String,
    items: String,
    total_cents: i64,
    currency: String,
    status: String,
}

impl TryFrom<OrderRow> for Order {
    type Error = sqlx::Error;

    fn try_from(row: OrderRow) -> Result<Self, sqlx::Error> {
        let status = OrderStatus::from_stored(&row.status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown order status {:?}", row.status).into())
        })?;
        let items: Vec<LineItem> =
            serde_json::from_str(&row.items).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Self {
            order_id: row.order_id,
            saga_id: row.saga_id,
            customer_id: row.customer_id,
            items,
            total_cents: row.total_cents,
            currency: row.currency,
            status,
        })
    }
}

/// Inserts a new order.
pub async fn insert_order(conn: &mut SqliteConnection, order: &Order) -> Result<(), sqlx::Error> {
    let items =
        serde_json::to_string(&order.items).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(concat!(
        "INSERT INTO orders (order_id, saga_id, customer_id, items, total_cents, currency,
                             status, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ",
        now_ms!(),
        ", ",
        now_ms!(),
        ")"
    ))
    .bind(&order.order_id)
    .bind(&order.saga_id)
    .bind(&order.customer_id)
    .bind(items)
    .bind(order.total_cents)
    .bind(&order.currency)
    .bind(order.status.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an order to `status`.
pub async fn set_status(
    conn: &mut SqliteConnection,
    order_id: &str,
    status: OrderStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "UPDATE orders SET status = ?1, updated_at_ms = ",
        now_ms!(),
        " WHERE order_id = ?2"
    ))
    .bind(status.as_str())
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The order with id `order_id`, if any.
pub async fn order_by_id(
    db: impl SqliteExecutor<'_>,
    order_id: &str,
) -> Result<Option<Order>, sqlx::Error> {
    sqlx::query_as::<_, OrderRow>(select_orders!("WHERE order_id = ?1"))
        .bind(order_id)
        .fetch_optional(db)
        .await?
        .map(Order::try_from)
        .transpose()
}

/// The order the saga `saga_id` created, if any (at most one per saga).
pub async fn order_by_saga(
    db: impl SqliteExecutor<'_>,
    saga_id: &str,
) -> Result<Option<Order>, sqlx::Error> {
    sqlx::query_as::<_, OrderRow>(select_orders!("WHERE saga_id = ?1"))
        .bind(saga_id)
        .fetch_optional(db)
        .await?
        .map(Order::try_from)
        .transpose()
}

/// One page of the orders matching `filter`, in `seq` order.
pub async fn list_orders(
    db: impl SqliteExecutor<'_>,
    filter: &OrderFilter,
) -> Result<OrderPage, sqlx::Error> {
    let rows = sqlx::query_as::<_, OrderRow>(select_orders!(
        "WHERE seq > ?1
           AND (?2 IS NULL OR customer_id = ?2)
           AND (?3 IS NULL OR status = ?3)
           AND (?4 IS NULL OR saga_id = ?4)
         ORDER BY seq
         LIMIT ?5"
    ))
    .bind(filter.after_seq.unwrap_or(0))
    .bind(filter.customer_id.as_deref())
    .bind(filter.status.map(OrderStatus::as_str))
    .bind(filter.saga_id.as_deref())
    .bind(i64::from(filter.page_size))
    .fetch_all(db)
    .await?;
    let last_seq = rows.last().map(|row| row.seq);
    let orders = rows
        .into_iter()
        .map(Order::try_from)
        .collect::<Result<_, _>>()?;
    Ok(OrderPage { orders, last_seq })
}
