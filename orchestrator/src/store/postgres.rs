//! The saga log on PostgreSQL: one transaction per commit, `synchronous_commit=on`
//! (the server default) for durability.

use async_trait::async_trait;
use sqlx::postgres::{PgConnection, PgPool};

use super::{Inserted, LogEntry, NewSaga, SagaRecord, SagaStore, SagaWrite, StoreError, rows};
use crate::saga::{LogRecord, SagaStatus};

/// The saga log in one PostgreSQL database, which several orchestrators may share.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Wraps a pool whose database has the orchestrator's migrations applied.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The migrations of the orchestrator's database.
    pub fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("../migrations/postgres/orchestrator")
    }
}

#[async_trait]
impl SagaStore for PgStore {
    async fn insert(&self, new: &NewSaga<'_>) -> Result<Inserted, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !insert_saga(&mut tx, new).await? {
            let existing = select_by_key(&mut tx, new.idempotency_key).await?;
            tx.rollback().await?;
            let existing = existing.ok_or_else(|| {
                StoreError::Corrupt(format!("key {} vanished", new.idempotency_key))
            })?;
            return Ok(Inserted::Existing(Box::new(existing)));
        }
        insert_log(&mut tx, new.saga_id, 0, new.log, new.now_ms).await?;
        tx.commit().await?;
        Ok(Inserted::New)
    }

    async fn commit(&self, write: &SagaWrite<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if !update_saga(&mut tx, write).await? {
            tx.rollback().await?;
            return Err(StoreError::Fenced(write.saga_id.to_string()));
        }
        insert_log(
            &mut tx,
            write.saga_id,
            write.log_len,
            write.log,
            write.now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get(&self, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        // REPEATABLE READ: the saga row and its log from one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let Some(mut saga) = select_by_id(&mut tx, saga_id).await? else {
            return Ok(None);
        };
        saga.log = select_log(&mut tx, saga_id).await?;
        tx.commit().await?;
        Ok(Some(saga))
    }

    async fn get_by_key(&self, key: &str) -> Result<Option<SagaRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        select_by_key(&mut conn, key).await
    }

    async fn list(
        &self,
        status: Option<SagaStatus>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let rows = sqlx::query(select_sagas!(
            "WHERE ($1::TEXT IS NULL OR status = $1) AND ($2::BIGINT IS NULL OR seq < $2)
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(status.map(SagaStatus::as_str))
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::saga).collect()
    }

    async fn unfinished(&self) -> Result<Vec<SagaRecord>, StoreError> {
        let rows = sqlx::query(select_sagas!(
            "WHERE status IN ('RUNNING', 'COMPENSATING') ORDER BY seq"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::saga).collect()
    }
}

/// Inserts the saga row; `false` when the idempotency key is taken.
async fn insert_saga(tx: &mut PgConnection, new: &NewSaga<'_>) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO sagas (saga_id, idempotency_key, request, state, status, version, log_len,
                            created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(new.saga_id)
    .bind(new.idempotency_key)
    .bind(rows::to_json(new.request)?)
    .bind(rows::to_json(new.state)?)
    .bind(new.state.status().as_str())
    .bind(rows::count(new.log.len()))
    .bind(new.now_ms)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Replaces the saga's state if it is still at the expected version.
async fn update_saga(tx: &mut PgConnection, w: &SagaWrite<'_>) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE sagas SET state = $1, status = $2, version = version + 1, log_len = $3,
                          updated_at_ms = $4
         WHERE saga_id = $5 AND version = $6",
    )
    .bind(rows::to_json(w.state)?)
    .bind(w.state.status().as_str())
    .bind(i64::from(w.log_len) + rows::count(w.log.len()))
    .bind(w.now_ms)
    .bind(w.saga_id)
    .bind(w.expected_version)
    .execute(&mut *tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

async fn insert_log(
    tx: &mut PgConnection,
    saga_id: &str,
    log_len: u32,
    records: &[LogRecord],
    now_ms: i64,
) -> Result<(), StoreError> {
    for (seq, r) in (i64::from(log_len) + 1..).zip(records) {
        sqlx::query(
            "INSERT INTO saga_log (saga_id, seq, step, outcome, attempt, detail, status, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(saga_id)
        .bind(seq)
        .bind(r.step.as_str())
        .bind(r.outcome.as_str())
        .bind(i64::from(r.attempt))
        .bind(&r.detail)
        .bind(r.status.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn select_by_id(
    conn: &mut PgConnection,
    saga_id: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    let row = sqlx::query(select_sagas!("WHERE saga_id = $1"))
        .bind(saga_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(rows::saga).transpose()
}

async fn select_by_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    let row = sqlx::query(select_sagas!("WHERE idempotency_key = $1"))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(rows::saga).transpose()
}

async fn select_log(conn: &mut PgConnection, saga_id: &str) -> Result<Vec<LogEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, step, outcome, attempt, detail, status, at_ms FROM saga_log
         WHERE saga_id = $1 ORDER BY seq",
    )
    .bind(saga_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(rows::log_entry).collect()
}
