//! The saga log in SQL, one implementation for both backends (SQLite and PostgreSQL):
//! writes go through the group committer, reads and lease work run here.

use async_trait::async_trait;
use service_kit::db::{Db, Migrations, Tx};
use service_kit::on_backend;

use super::batch::GroupCommitter;
use super::statements::{SagaKey, saga_from_row, select_log, select_saga};
use super::writes::{Append, insert_logs};
use super::{Claim, Inserted, Lease, NewSaga, SagaRecord, SagaStore, SagaWrite, StoreError};
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
        which: Claim,
        lease: Lease<'_>,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let include_own = which == Claim::ExpiredOrOwn;
        let mut tx = self.db.begin_write().await?;
        let sql = match tx {
            Tx::Sqlite(_) => CLAIM_SQLITE,
            Tx::Postgres(_) => CLAIM_POSTGRES,
        };
        let claimed = on_backend!(&mut tx, conn => {
            let rows = sqlx::query(sql)
                .bind(lease.owner)
                .bind(lease.until_ms)
                .bind(now_ms)
                .bind(include_own)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?;
            rows.iter().map(saga_from_row).collect::<Result<Vec<_>, _>>()
        })?;
        let claimed = record_claims(&mut tx, claimed, which, lease.owner, now_ms).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn renew(&self, lease: Lease<'_>) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let renewed = on_backend!(&mut tx, conn => sqlx::query(
            "UPDATE sagas SET lease_until_ms = $1
             WHERE owner = $2 AND status IN ('RUNNING', 'COMPENSATING')",
        )
        .bind(lease.until_ms)
        .bind(lease.owner)
        .execute(conn)
        .await?
        .rows_affected());
        tx.commit().await?;
        Ok(renewed)
    }
}

/// Appends a CLAIMED record to each claimed saga's log (the claim already counted it in
/// `log_len`); returns the sagas oldest first, as they should be resumed (RETURNING keeps
/// no order).
async fn record_claims(
    tx: &mut Tx,
    mut claimed: Vec<SagaRecord>,
    which: Claim,
    owner: &str,
    now_ms: i64,
) -> Result<Vec<SagaRecord>, StoreError> {
    claimed.sort_by_key(|saga| saga.row);
    let detail = match which {
        Claim::Expired => format!("claimed by {owner}: its owner's lease expired"),
        Claim::ExpiredOrOwn => format!("claimed by {owner} at its start"),
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

/// The claim statement; `$lock` locks the chosen rows (PostgreSQL) or is empty (SQLite).
macro_rules! claim_sagas {
    ($lock:literal) => {
        concat!(
            "UPDATE sagas SET owner = $1, lease_until_ms = $2, version = version + 1,
                              log_len = log_len + 1
             WHERE seq IN (SELECT seq FROM sagas
                           WHERE status IN ('RUNNING', 'COMPENSATING')
                             AND ((owner <> $1 AND lease_until_ms < $3) OR ($4 AND owner = $1))
                           ORDER BY seq LIMIT $5 ",
            $lock,
            ") RETURNING seq, saga_id, idempotency_key, request, state, version, log_len, owner, ",
            "created_at_ms, updated_at_ms"
        )
    };
}

/// Claims on SQLite: one writer at a time, so a plain subquery cannot race.
const CLAIM_SQLITE: &str = claim_sagas!("");

/// Claims on PostgreSQL: rows another replica is claiming right now are skipped, not
/// waited for.
const CLAIM_POSTGRES: &str = claim_sagas!("FOR UPDATE SKIP LOCKED");
