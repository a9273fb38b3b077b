//! The orders table, in sqlx: one function per statement, each run inside the caller's
//! transaction on either backend (SQLite or PostgreSQL) with the same SQL.

use service_kit::db::{self, RowExt, Tx, Written};
use service_kit::on_backend;
use sqlx::AssertSqlSafe;

use crate::domain::{After, LineItem, Lines, Order, OrderFilter, OrderStatus, Origin, PlacedAs};

/// One page of a listing, and the `seq` of its last row (to make the next page's token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub last_seq: Option<i64>,
}

/// The filters of a listing, `$1` to `$4`, each NULL for "any"; `$4` says whether the
/// order was placed directly.
macro_rules! filters {
    () => {
        "WHERE ($1 IS NULL OR customer_id = $1)
           AND ($2 IS NULL OR status = $2)
           AND ($3 IS NULL OR saga_id = $3)
           AND ($4 IS NULL OR (idempotency_key IS NOT NULL) = $4) "
    };
}

/// The columns every read selects, as `order_from_row` reads them.
macro_rules! select_orders {
    ($($rest:expr),*) => {
        concat!(
            "SELECT seq, order_id, saga_id, idempotency_key, customer_id, items, total_cents,
                    currency, status, version, confirmed_by, updated_at_ms, placed_as
             FROM orders ",
            $($rest),*
        )
    };
}

/// Inserts a new order; one placed directly keeps the request it was placed as.
pub async fn insert_order(tx: &mut Tx, order: &Order) -> Result<(), sqlx::Error> {
    insert_orders(tx, &[order]).await
}

/// Inserts new orders, in one statement.
pub async fn insert_orders(tx: &mut Tx, orders: &[&Order]) -> Result<(), sqlx::Error> {
    if orders.is_empty() {
        return Ok(());
    }
    let rows = orders
        .iter()
        .map(|order| Inserted::of(order))
        .collect::<Result<Vec<_>, _>>()?;
    let sql = format!(
        "INSERT INTO orders (order_id, saga_id, idempotency_key, placed_as, customer_id, items,
                             total_cents, currency, status, version, confirmed_by,
                             created_at_ms, updated_at_ms)
         VALUES {}",
        db::placeholder_rows(tx, 13, rows.len(), 1)
    );
    service_kit::write_later!(tx, sql.as_str(), values => {
        for row in &rows {
            let order = row.order;
            values.bind(&order.order_id)?;
            values.bind(order.creating_saga())?;
            values.bind(row.key)?;
            values.bind(row.placed_as.as_deref())?;
            values.bind(&order.customer_id)?;
            values.bind(&row.items)?;
            values.bind(order.total_cents)?;
            values.bind(&order.currency)?;
            values.bind(order.status.as_str())?;
            values.bind(row.version)?;
            values.bind(order.confirmed_by.as_deref())?;
            values.bind(order.updated_at_ms)?;
            values.bind(order.updated_at_ms)?;
        }
    })
    .map(drop)
}

/// An order as its row is inserted.
struct Inserted<'a> {
    order: &'a Order,
    key: Option<&'a str>,
    placed_as: Option<String>,
    items: String,
    version: i64,
}

impl<'a> Inserted<'a> {
    fn of(order: &'a Order) -> Result<Self, sqlx::Error> {
        let key = match &order.origin {
            Origin::Saga(_) => None,
            Origin::Direct(key) => Some(key.as_str()),
        };
        let placed_as = key
            .map(|_| {
                json(&PlacedAs {
                    customer_id: order.customer_id.clone(),
                    items: order.items.clone(),
                    currency: order.currency.clone(),
                })
            })
            .transpose()?;
        Ok(Self {
            order,
            key,
            placed_as,
            items: json(&order.items)?,
            version: stored_version(order.version)?,
        })
    }
}

/// Replaces the items and total of `order_id`, PENDING at `version`, raising its version;
/// false (and nothing written) when it is no longer PENDING at `version`: a concurrent
/// write (another orders-svc on the same database) changed it first.
pub async fn set_lines(
    tx: &mut Tx,
    order_id: &str,
    lines: &Lines,
    version: u64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let items = json(&lines.items)?;
    let changed = on_backend!(tx, conn => sqlx::query(
        "UPDATE orders SET items = $1, total_cents = $2, version = version + 1,
                           updated_at_ms = $3
         WHERE order_id = $4 AND status = 'PENDING' AND version = $5",
    )
    .bind(&items)
    .bind(lines.total_cents)
    .bind(now_ms)
    .bind(order_id)
    .bind(stored_version(version)?)
    .execute(conn)
    .await?
    .rows_affected());
    Ok(changed == 1)
}

/// Moves `order_id`, PENDING at `version`, to `status` (confirmed by `confirmed_by`, for
/// an order placed directly); false (and nothing written) when it is no longer PENDING
/// at `version`: a concurrent write changed it first.
pub async fn leave_pending(
    tx: &mut Tx,
    order_id: &str,
    version: u64,
    status: OrderStatus,
    confirmed_by: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let leave = Leave {
        order_id,
        version,
        status,
        confirmed_by,
        updated_at_ms: now_ms,
    };
    let written = leave_pending_all(tx, &[leave]).await?;
    Ok(tx.require_changes(written, 1).is_ok())
}

/// One order to move out of PENDING.
#[derive(Debug, Clone, Copy)]
pub struct Leave<'a> {
    pub order_id: &'a str,
    /// The version it must still be PENDING at.
    pub version: u64,
    pub status: OrderStatus,
    pub confirmed_by: Option<&'a str>,
    pub updated_at_ms: i64,
}

/// Moves each order of `leaves` out of PENDING, in one statement (held back for the
/// commit while `tx` holds writes); how many moved, when it ran now (one that is no
/// longer PENDING at its version, changed by a concurrent write, does not).
pub async fn leave_pending_all(tx: &mut Tx, leaves: &[Leave<'_>]) -> Result<Written, sqlx::Error> {
    if leaves.is_empty() {
        return Ok(Written::Now(0));
    }
    let versions = leaves
        .iter()
        .map(|leave| stored_version(leave.version))
        .collect::<Result<Vec<_>, _>>()?;
    // A VALUES list's columns are column1, column2, … on both backends.
    let sql = format!(
        "UPDATE orders SET status = v.column2, confirmed_by = v.column3,
                           updated_at_ms = v.column4
         FROM (VALUES {}) AS v
         WHERE orders.order_id = v.column1 AND orders.status = 'PENDING'
           AND orders.version = v.column5",
        db::placeholder_rows(tx, 5, leaves.len(), 1)
    );
    service_kit::write_later!(tx, sql.as_str(), values => {
        for (leave, version) in leaves.iter().zip(&versions) {
            values.bind(leave.order_id)?;
            values.bind(leave.status.as_str())?;
            values.bind(leave.confirmed_by)?;
            values.bind(leave.updated_at_ms)?;
            values.bind(version)?;
        }
    })
}

/// The orders whose id is one of `ids` or whose creating saga is one of `sagas`.
pub async fn orders_by_ids_or_sagas(
    tx: &mut Tx,
    ids: &[&str],
    sagas: &[&str],
) -> Result<Vec<Order>, sqlx::Error> {
    let mut conditions = Vec::new();
    if !ids.is_empty() {
        conditions.push(format!(
            "order_id IN ({})",
            db::placeholder_list(tx, ids.len(), 1)
        ));
    }
    if !sagas.is_empty() {
        let first = ids.len() + 1;
        conditions.push(format!(
            "saga_id IN ({})",
            db::placeholder_list(tx, sagas.len(), first)
        ));
    }
    if conditions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{} WHERE {}", select_orders!(), conditions.join(" OR "));
    on_backend!(tx, conn => {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for value in ids.iter().chain(sagas) {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(conn).await?;
        rows.iter().map(order_from_row).collect()
    })
}

/// The order placed under idempotency key `key`, and the request it was placed as.
pub async fn order_by_key(
    tx: &mut Tx,
    key: &str,
) -> Result<Option<(Order, PlacedAs)>, sqlx::Error> {
    on_backend!(tx, conn => {
        let row = sqlx::query(select_orders!("WHERE idempotency_key = $1"))
            .bind(key)
            .fetch_optional(conn)
            .await?;
        row.as_ref()
            .map(|row| {
                let placed_as = serde_json::from_str(&row.text("placed_as")?)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok((order_from_row(row)?, placed_as))
            })
            .transpose()
    })
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

/// One page of the orders matching `filter`, in `seq` order or in change order.
pub async fn list_orders(tx: &mut Tx, filter: &OrderFilter) -> Result<OrderPage, sqlx::Error> {
    let (after_seq, after_change) = match &filter.after {
        After::Seq(seq) => (seq.unwrap_or(0), None),
        After::Change {
            updated_at_ms,
            order_id,
        } => (0, Some((*updated_at_ms, order_id.as_str()))),
    };
    let sql = match after_change {
        None => select_orders!(filters!(), "AND seq > $6 ORDER BY seq LIMIT $5"),
        Some(_) => select_orders!(
            filters!(),
            "AND (updated_at_ms > $6 OR (updated_at_ms = $6 AND order_id > $7))
             ORDER BY updated_at_ms, order_id LIMIT $5"
        ),
    };
    let rows = on_backend!(tx, conn => {
        let query = sqlx::query(sql)
            .bind(filter.customer_id.as_deref())
            .bind(filter.status.map(OrderStatus::as_str))
            .bind(filter.saga_id.as_deref())
            .bind(filter.direct)
            .bind(i64::from(filter.page_size));
        let query = match after_change {
            None => query.bind(after_seq),
            Some((updated_at_ms, order_id)) => query.bind(updated_at_ms).bind(order_id),
        };
        let rows = query.fetch_all(conn).await?;
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
    let origin = match (row.opt_text("saga_id")?, row.opt_text("idempotency_key")?) {
        (Some(saga_id), _) => Origin::Saga(saga_id),
        (None, Some(key)) => Origin::Direct(key),
        (None, None) => return Err(sqlx::Error::Decode("an order of no origin".into())),
    };
    let version = u64::try_from(row.int("version")?)
        .map_err(|_| sqlx::Error::Decode("a negative order version".into()))?;
    Ok(Order {
        order_id: row.text("order_id")?,
        origin,
        customer_id: row.text("customer_id")?,
        items,
        total_cents: row.int("total_cents")?,
        currency: row.text("currency")?,
        status,
        version,
        confirmed_by: row.opt_text("confirmed_by")?,
        updated_at_ms: row.int("updated_at_ms")?,
    })
}

/// `value` as the JSON text a column stores.
fn json(value: &impl serde::Serialize) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A version as the `version` column stores it.
fn stored_version(version: u64) -> Result<i64, sqlx::Error> {
    i64::try_from(version).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}
