//! The saga log in SQL, one implementation for both backends (SQLite and PostgreSQL):
//! writes go through the group committer, reads and lease work run here.

use async_trait::async_trait;
use service_kit::db::{Db, Migrations, Tx};
use service_kit::on_backend;

use super::batch::GroupCommitter;
use super::replicas;
use super::statements::{SagaKey, saga_from_row, select_log, select_saga};
use super::writes::{Append, insert_logs};
use super::{
    Claim, Incarnation, Inserted, Lease, NewSaga, ReplicaRecord, SagaRecord, SagaStore, SagaWrite,
    StoreError,
};
use crate::saga::{LogRecord, Outcome, SagaStatus, Step};

/// The saga log in a SQLite file or a PostgreSQL database (which several orchestrators
/// may share). Writes of concurrent sagas are group-committed.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
    writer: GroupCommitter,
}

impl SqlStore {
    /// Wraps a database that has the orchestrator's [`migrations`] applied; up to
    /// `max_batch` writes share one commit. Must be called inside a tokio runtime.
    pub fn new(db: Db, max_batch: usize) -> Self {
        let writer = GroupCommitter::start(db.clone(), max_batch);
        Self { db, writer }
    }
}

/// The orchestrator's migrations for each backend.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("../migrations/sqlite/orchestrator"),
        postgres: sqlx::migrate!("../migrations/postgres/orchestrator"),
    }
}

#[async_trait]
impl SagaStore for SqlStore {
    async fn insert(&self, new: &NewSaga<'_>) -> Result<Inserted, StoreError> {
        self.writer.insert(new).await
    }

    async fn commit(&self, write: &SagaWrite<'_>) -> Result<(), StoreError> {
        self.writer.commit(write).await
    }

    async fn get(&self, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let Some(mut saga) = select_saga(&mut tx, SagaKey::Id(saga_id)).await? else {
            return Ok(None);
        };
        saga.log = select_log(&mut tx, saga_id).await?;
        tx.commit().await?;
        Ok(Some(saga))
    }

    async fn get_by_key(&self, key: &str) -> Result<Option<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let saga = select_saga(&mut tx, SagaKey::Key(key)).await?;
        tx.commit().await?;
        Ok(saga)
    }

    async fn list(
        &self,
        status: Option<SagaStatus>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let status = status.map(SagaStatus::as_str);
        let sagas = on_backend!(&mut tx, conn => {
            let rows = sqlx::query(select_sagas!(
                "WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR seq < $2)
                 ORDER BY seq DESC LIMIT $3"
            ))
            .bind(status)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?;
            rows.iter().map(saga_from_row).collect::<Result<Vec<_>, _>>()
        })?;
        tx.commit().await?;
        Ok(sagas)
    }

    async fn claim(
        &self,
        which: Claim<'_>,
        lease: Lease<'_>,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let sqlite = matches!(tx, Tx::Sqlite(_));
        let claimed = on_backend!(&mut tx, conn => {
            let query = match which {
                Claim::ExpiredSaga(saga_id) => {
                    sqlx::query(if sqlite { CLAIM_ONE_SQLITE } else { CLAIM_ONE_POSTGRES })
                        .bind(lease.owner)
                        .bind(lease.ms)
                        .bind(saga_id)
                }
                Claim::AtStart | Claim::Expired => {
                    sqlx::query(if sqlite { CLAIM_SQLITE } else { CLAIM_POSTGRES })
                        .bind(lease.owner)
                        .bind(lease.ms)
                        .bind(which == Claim::AtStart)
                        .bind(which == Claim::AtStart && sqlite)
                        .bind(i64::from(limit))
                }
            };
            let rows = query.fetch_all(conn).await?;
            rows.iter().map(saga_from_row).collect::<Result<Vec<_>, _>>()
        })?;
        let claimed = record_claims(&mut tx, claimed, which, lease.owner, now_ms).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn register(&self, replica_id: &str) -> Result<i64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let incarnation = replicas::register(&mut tx, replica_id).await?;
        tx.commit().await?;
        Ok(incarnation)
    }

    async fn renew(
        &self,
        incarnation: Incarnation<'_>,
        lease_ms: i64,
        saga_ids: &[&str],
    ) -> Result<Option<u64>, StoreError> {
        let ids =
            serde_json::to_string(saga_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.db.begin_write().await?;
        if !replicas::heartbeat(&mut tx, incarnation.replica_id, incarnation.number).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        if saga_ids.is_empty() {
            tx.commit().await?;
            return Ok(Some(0));
        }
        let sql = match tx {
            Tx::Sqlite(_) => RENEW_SQLITE,
            Tx::Postgres(_) => RENEW_POSTGRES,
        };
        let renewed = on_backend!(&mut tx, conn => sqlx::query(sql)
            .bind(lease_ms)
            .bind(incarnation.replica_id)
            .bind(&ids)
            .execute(conn)
            .await?
            .rows_affected());
        tx.commit().await?;
        Ok(Some(renewed))
    }

    async fn replicas(&self, fresh_ms: i64) -> Result<Vec<ReplicaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let live = replicas::live(&mut tx, fresh_ms).await?;
        tx.commit().await?;
        Ok(live)
    }
}

/// Appends a CLAIMED record to each claimed saga's log (the claim already counted it in
/// `log_len`); returns the sagas oldest first, as they should be resumed (RETURNING keeps
/// no order).
async fn record_claims(
    tx: &mut Tx,
    mut claimed: Vec<SagaRecord>,
    which: Claim<'_>,
    owner: &str,
    now_ms: i64,
) -> Result<Vec<SagaRecord>, StoreError> {
    claimed.sort_by_key(|saga| saga.row);
    let detail = match which {
        Claim::Expired => format!("claimed by {owner}: its lease expired"),
        Claim::ExpiredSaga(_) => format!("claimed by {owner}: its lease expired, its key retried"),
        Claim::AtStart => format!("claimed by {owner} at its start"),
    };
    let records: Vec<[LogRecord; 1]> = claimed
        .iter()
        .map(|saga| {
            [LogRecord {
                step: Step::Saga,
                outcome: Outcome::Claimed,
                attempt: 0,
                detail: detail.clone(),
                status: saga.state.status(),
            }]
        })
        .collect();
    let appends: Vec<Append> = claimed
        .iter()
        .zip(&records)
        .map(|(saga, records)| Append {
            saga_id: &saga.saga_id,
            log_len: saga.log_len.saturating_sub(1),
            records,
            writer: owner,
            version: saga.version,
            now_ms,
        })
        .collect();
    insert_logs(tx, &appends).await?;
    Ok(claimed)
}

/// The claim statement over the unfinished sagas whose lease expired on the database's
/// clock, or that `$or` adds, and that `$rest` narrows. `$lock` locks the chosen rows
/// (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so that rows another replica is claiming right
/// now are skipped, not waited for) or is empty (SQLite has one writer at a time, so a
/// plain subquery cannot race). The new lease, `$2` ms, counts from the database's time.
macro_rules! claim_sagas {
    ($backend:ident, $or:literal, $rest:literal, $lock:literal) => {
        concat!(
            "UPDATE sagas SET owner = $1, lease_until_ms = ",
            db_now_ms!($backend),
            " + $2, version = version + 1, log_len = log_len + 1
             WHERE seq IN (SELECT seq FROM sagas
                           WHERE status IN ('RUNNING', 'COMPENSATING')
                             AND (lease_until_ms < ",
            db_now_ms!($backend),
            $or,
            ") ",
            $rest,
            " ",
            $lock,
            ") RETURNING seq, saga_id, idempotency_key, request, state, version, log_len, owner, ",
            "lease_until_ms, created_at_ms, updated_at_ms"
        )
    };
}

/// Expired sagas, with the claimer's own when `$3`, or all when `$4`; at most `$5`,
/// oldest first.
const CLAIM_SQLITE: &str = claim_sagas!(
    sqlite,
    " OR ($3 AND owner = $1) OR $4",
    "ORDER BY seq LIMIT $5",
    ""
);
const CLAIM_POSTGRES: &str = claim_sagas!(
    postgres,
    " OR ($3 AND owner = $1) OR $4",
    "ORDER BY seq LIMIT $5",
    "FOR UPDATE SKIP LOCKED"
);

/// The saga `$3`, if its lease expired.
const CLAIM_ONE_SQLITE: &str = claim_sagas!(sqlite, "", "AND saga_id = $3", "");
const CLAIM_ONE_POSTGRES: &str =
    claim_sagas!(postgres, "", "AND saga_id = $3", "FOR UPDATE SKIP LOCKED");

/// Renews, for `$1` ms from the database's time, the leases of the sagas `$2` holds
/// among those `$3` lists (a JSON array, taken apart by each backend's own function).
macro_rules! renew_sagas {
    ($backend:ident, $ids:literal) => {
        concat!(
            "UPDATE sagas SET lease_until_ms = ",
            db_now_ms!($backend),
            " + $1 WHERE owner = $2 AND status IN ('RUNNING', 'COMPENSATING') AND saga_id IN (",
            $ids,
            ")"
        )
    };
}

const RENEW_SQLITE: &str = renew_sagas!(sqlite, "SELECT value FROM json_each($3)");
const RENEW_POSTGRES: &str = renew_sagas!(postgres, "SELECT json_array_elements_text($3::json)");
