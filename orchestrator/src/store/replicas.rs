//! The replicas table: each process's incarnation of its replica id and its heartbeat,
//! on the database's clock.

use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use super::{ReplicaRecord, StoreError};

/// Registers a new incarnation of `replica_id` (the first, or one more than the last);
/// returns it.
pub(super) async fn register(tx: &mut Tx, replica_id: &str) -> Result<i64, StoreError> {
    macro_rules! register {
        ($backend:ident) => {
            concat!(
                "INSERT INTO replicas (replica_id, incarnation, started_at_ms, heartbeat_ms)
                 VALUES ($1, 1, ",
                db_now_ms!($backend),
                ", ",
                db_now_ms!($backend),
                ") ON CONFLICT (replica_id) DO UPDATE SET incarnation = replicas.incarnation + 1,
                   started_at_ms = excluded.started_at_ms, heartbeat_ms = excluded.heartbeat_ms
                 RETURNING incarnation"
            )
        };
    }
    let sql = match tx {
        Tx::Sqlite(_) => register!(sqlite),
        Tx::Postgres(_) => register!(postgres),
    };
    Ok(on_backend!(tx, conn => sqlx::query_scalar(sql).bind(replica_id).fetch_one(conn).await?))
}

/// Refreshes the heartbeat of `incarnation`; `false` when a newer one holds the id.
pub(super) async fn heartbeat(
    tx: &mut Tx,
    replica_id: &str,
    incarnation: i64,
) -> Result<bool, StoreError> {
    macro_rules! heartbeat {
        ($backend:ident) => {
            concat!(
                "UPDATE replicas SET heartbeat_ms = ",
                db_now_ms!($backend),
                " WHERE replica_id = $1 AND incarnation = $2"
            )
        };
    }
    let sql = match tx {
        Tx::Sqlite(_) => heartbeat!(sqlite),
        Tx::Postgres(_) => heartbeat!(postgres),
    };
    let updated = on_backend!(tx, conn => sqlx::query(sql)
        .bind(replica_id)
        .bind(incarnation)
        .execute(conn)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// The replicas heard from in the last `fresh_ms`, by id, with the unfinished sagas each
/// holds.
pub(super) async fn live(tx: &mut Tx, fresh_ms: i64) -> Result<Vec<ReplicaRecord>, StoreError> {
    macro_rules! live {
        ($backend:ident) => {
            concat!(
                "SELECT r.replica_id, r.incarnation, r.started_at_ms, r.heartbeat_ms,
                        ",
                db_now_ms!($backend),
                " - r.heartbeat_ms AS heartbeat_age_ms,
                        (SELECT COUNT(*) FROM sagas s WHERE s.owner = r.replica_id
                           AND s.status IN ('RUNNING', 'COMPENSATING')) AS sagas_held
                 FROM replicas r WHERE r.heartbeat_ms > ",
                db_now_ms!($backend),
                " - $1 ORDER BY r.replica_id"
            )
        };
    }
    let sql = match tx {
        Tx::Sqlite(_) => live!(sqlite),
        Tx::Postgres(_) => live!(postgres),
    };
    on_backend!(tx, conn => {
        let rows = sqlx::query(sql).bind(fresh_ms).fetch_all(conn).await?;
        rows.iter().map(replica_from_row).collect()
    })
}

fn replica_from_row(row: &impl RowExt) -> Result<ReplicaRecord, StoreError> {
    Ok(ReplicaRecord {
        replica_id: row.text("replica_id")?,
        incarnation: row.int("incarnation")?,
        started_at_ms: row.int("started_at_ms")?,
        heartbeat_ms: row.int("heartbeat_ms")?,
        heartbeat_age_ms: row.int("heartbeat_age_ms")?,
        sagas_held: row.int("sagas_held")?,
    })
}
