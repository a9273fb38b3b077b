//! The saga log in SQL, one implementation for both backends (SQLite and PostgreSQL):
//! every method is one transaction; statements use `$n` placeholders both accept.

use async_trait::async_trait;
use service_kit::db::{Db, Migrations, RowExt, Tx};
use service_kit::on_backend;

use super::{
    Claim, Inserted, Lease, LogEntry, NewSaga, SagaRecord, SagaStore, SagaWrite, StoreError,
};
use crate::saga::{LogRecord, Outcome, SagaStatus, Step};

/// `SELECT <saga columns> FROM sagas` followed by the rest of a query, as a static string.
macro_rules! select_sagas {
    ($rest:literal) => {
        concat!(
            "SELECT seq, saga_id, idempotency_key, request, state, version, log_len, owner, ",
            "created_at_ms, updated_at_ms FROM sagas ",
            $rest
        )
    };
}

/// The saga log in a SQLite file or a PostgreSQL database (which several orchestrators
/// may share).
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    /// Wraps a database that has the orchestrator's [`migrations`] applied.
    pub fn new(db: Db) -> Self {
        Self { db }
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
        let mut tx = self.db.begin_write().await?;
        if !insert_saga(&mut tx, new).await? {
            let existing = select_saga(&mut tx, SagaKey::Key(new.idempotency_key)).await?;
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
        let mut tx = self.db.begin_write().await?;
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
        let mut claimed = on_backend!(&mut tx, conn => {
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
        tx.commit().await?;
        // RETURNING keeps no order; resume the oldest first.
        claimed.sort_by_key(|saga| saga.row);
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

/// Claims on SQLite: one writer at a time, so a plain subquery cannot race.
const CLAIM_SQLITE: &str = concat!(
    "UPDATE sagas SET owner = $1, lease_until_ms = $2, version = version + 1
     WHERE seq IN (SELECT seq FROM sagas
                   WHERE status IN ('RUNNING', 'COMPENSATING')
                     AND ((owner <> $1 AND lease_until_ms < $3) OR ($4 AND owner = $1))
                   ORDER BY seq LIMIT $5)
     RETURNING seq, saga_id, idempotency_key, request, state, version, log_len, owner, ",
    "created_at_ms, updated_at_ms"
);

/// Claims on PostgreSQL: rows another replica is claiming right now are skipped, not
/// waited for.
const CLAIM_POSTGRES: &str = concat!(
    "UPDATE sagas SET owner = $1, lease_until_ms = $2, version = version + 1
     WHERE seq IN (SELECT seq FROM sagas
                   WHERE status IN ('RUNNING', 'COMPENSATING')
                     AND ((owner <> $1 AND lease_until_ms < $3) OR ($4 AND owner = $1))
                   ORDER BY seq LIMIT $5
                   FOR UPDATE SKIP LOCKED)
     RETURNING seq, saga_id, idempotency_key, request, state, version, log_len, owner, ",
    "created_at_ms, updated_at_ms"
);

/// Inserts the saga row; `false` when the idempotency key is taken.
async fn insert_saga(tx: &mut Tx, new: &NewSaga<'_>) -> Result<bool, StoreError> {
    let (request, state) = (to_json(new.request)?, to_json(new.state)?);
    let inserted = on_backend!(tx, conn => sqlx::query(
        "INSERT INTO sagas (saga_id, idempotency_key, request, state, status, version, log_len,
                            created_at_ms, updated_at_ms, owner, lease_until_ms)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8, $9)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(new.saga_id)
    .bind(new.idempotency_key)
    .bind(&request)
    .bind(&state)
    .bind(new.state.status().as_str())
    .bind(count(new.log.len()))
    .bind(new.now_ms)
    .bind(new.lease.owner)
    .bind(new.lease.until_ms)
    .execute(conn)
    .await?
    .rows_affected());
    Ok(inserted == 1)
}

/// Replaces the saga's state if it is still at the expected version.
async fn update_saga(tx: &mut Tx, w: &SagaWrite<'_>) -> Result<bool, StoreError> {
    let state = to_json(w.state)?;
    let log_len = i64::from(w.log_len) + count(w.log.len());
    let updated = on_backend!(tx, conn => sqlx::query(
        "UPDATE sagas SET state = $1, status = $2, version = version + 1, log_len = $3,
                          updated_at_ms = $4, lease_until_ms = $7
         WHERE saga_id = $5 AND version = $6",
    )
    .bind(&state)
    .bind(w.state.status().as_str())
    .bind(log_len)
    .bind(w.now_ms)
    .bind(w.saga_id)
    .bind(w.expected_version)
    .bind(w.lease_until_ms)
    .execute(conn)
    .await?
    .rows_affected());
    Ok(updated == 1)
}

async fn insert_log(
    tx: &mut Tx,
    saga_id: &str,
    log_len: u32,
    records: &[LogRecord],
    now_ms: i64,
) -> Result<(), StoreError> {
    for (seq, r) in (i64::from(log_len) + 1..).zip(records) {
        on_backend!(tx, conn => sqlx::query(
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
        .execute(conn)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// How a saga is looked up.
#[derive(Debug, Clone, Copy)]
enum SagaKey<'a> {
    Id(&'a str),
    Key(&'a str),
}

async fn select_saga(tx: &mut Tx, key: SagaKey<'_>) -> Result<Option<SagaRecord>, StoreError> {
    let (sql, value) = match key {
        SagaKey::Id(id) => (select_sagas!("WHERE saga_id = $1"), id),
        SagaKey::Key(key) => (select_sagas!("WHERE idempotency_key = $1"), key),
    };
    on_backend!(tx, conn => {
        let row = sqlx::query(sql).bind(value).fetch_optional(conn).await?;
        row.as_ref().map(saga_from_row).transpose()
    })
}

async fn select_log(tx: &mut Tx, saga_id: &str) -> Result<Vec<LogEntry>, StoreError> {
    on_backend!(tx, conn => {
        let rows = sqlx::query(
            "SELECT seq, step, outcome, attempt, detail, status, at_ms FROM saga_log
             WHERE saga_id = $1 ORDER BY seq",
        )
        .bind(saga_id)
        .fetch_all(conn)
        .await?;
        rows.iter().map(log_from_row).collect()
    })
}

fn saga_from_row(row: &impl RowExt) -> Result<SagaRecord, StoreError> {
    Ok(SagaRecord {
        row: row.int("seq")?,
        saga_id: row.text("saga_id")?,
        idempotency_key: row.text("idempotency_key")?,
        request: from_json(&row.text("request")?)?,
        state: from_json(&row.text("state")?)?,
        version: row.int("version")?,
        log_len: small(row.int("log_len")?)?,
        owner: row.text("owner")?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
        log: Vec::new(),
    })
}

fn log_from_row(row: &impl RowExt) -> Result<LogEntry, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("{what} {value:?}"));
    let (step, outcome, status) = (row.text("step")?, row.text("outcome")?, row.text("status")?);
    Ok(LogEntry {
        seq: small(row.int("seq")?)?,
        record: LogRecord {
            step: Step::parse(&step).ok_or_else(|| corrupt("step", &step))?,
            outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
            attempt: small(row.int("attempt")?)?,
            detail: row.text("detail")?,
            status: SagaStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        },
        at_ms: row.int("at_ms")?,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn small(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} out of range")))
}

fn count(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}
