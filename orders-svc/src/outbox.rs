//! The outbox table: each event of an order placed directly is written in the order's own
//! transaction, so an order and its event commit together or not at all. Readers (the
//! gRPC stream, the broker relay) see events in `event_id` order.

use prost::Message;
use saga_contracts::orders::v1 as proto;
use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use crate::domain::EventType;

/// The `aggregate_type` of every event here.
pub const AGGREGATE_TYPE: &str = "order";

/// The PostgreSQL advisory lock that writers of events take until they commit.
const OUTBOX_LOCK: i64 = 0x6f75_7462_6f78; // "outbox"

/// Writes the event that `order`, as this transaction leaves it, had `happened`.
pub async fn record(
    tx: &mut Tx,
    happened: EventType,
    order: &proto::Order,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    in_commit_order(tx).await?;
    on_backend!(tx, conn => sqlx::query(
        "INSERT INTO order_outbox (aggregate_type, aggregate_id, type, payload, created_at_ms)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(AGGREGATE_TYPE)
    .bind(&order.order_id)
    .bind(happened.as_str())
    .bind(order.encode_to_vec())
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Makes event ids increase in commit order, which a reader resuming after an id relies
/// on. SQLite commits one writer at a time already. On PostgreSQL, ids are handed out at
/// insert but seen at commit, so two orders-svc on one database could commit id 11
/// before id 10 and a reader past 11 would never see 10: each writer of events takes
/// one transaction-scoped lock first, so ids are handed out and committed in one order.
async fn in_commit_order(tx: &mut Tx) -> Result<(), sqlx::Error> {
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(OUTBOX_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Up to `limit` events after `after_event_id`, oldest first.
pub async fn after(
    tx: &mut Tx,
    after_event_id: u64,
    limit: u32,
) -> Result<Vec<proto::OrderEvent>, sqlx::Error> {
    let after = i64::try_from(after_event_id).unwrap_or(i64::MAX);
    on_backend!(tx, conn => {
        let rows = sqlx::query(
            "SELECT event_id, aggregate_type, aggregate_id, type, payload, created_at_ms
             FROM order_outbox WHERE event_id > $1 ORDER BY event_id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
        rows.iter().map(event_from_row).collect()
    })
}

/// Up to `limit` events the relay has not yet seen acked, oldest first.
pub async fn unpublished(tx: &mut Tx, limit: u32) -> Result<Vec<proto::OrderEvent>, sqlx::Error> {
    on_backend!(tx, conn => {
        let rows = sqlx::query(
            "SELECT event_id, aggregate_type, aggregate_id, type, payload, created_at_ms
             FROM order_outbox WHERE published_at_ms IS NULL ORDER BY event_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
        rows.iter().map(event_from_row).collect()
    })
}

/// Marks the event `event_id` published: the broker has acked it.
pub async fn mark_published(tx: &mut Tx, event_id: u64, now_ms: i64) -> Result<(), sqlx::Error> {
    let event_id = i64::try_from(event_id).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    on_backend!(tx, conn => sqlx::query(
        "UPDATE order_outbox SET published_at_ms = $1
         WHERE event_id = $2 AND published_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(event_id)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

fn event_from_row(row: &impl RowExt) -> Result<proto::OrderEvent, sqlx::Error> {
    let payload = row.bytes("payload")?.unwrap_or_default();
    let order =
        proto::Order::decode(payload.as_slice()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let event_id = u64::try_from(row.int("event_id")?)
        .map_err(|_| sqlx::Error::Decode("a negative event id".into()))?;
    Ok(proto::OrderEvent {
        event_id,
        aggregate_type: row.text("aggregate_type")?,
        aggregate_id: row.text("aggregate_id")?,
        r#type: row.text("type")?,
        order: Some(order),
        created_at_ms: row.int("created_at_ms")?,
    })
}
