//! The saga log's statements, one function per statement, shared by the group
//! committer and the readers; `$n` placeholders, which both backends accept.

use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use super::{LogEntry, NewSaga, SagaRecord, SagaWrite, StoreError};
use crate::saga::{LogRecord, Outcome, SagaStatus, Step};

/// A new saga's version.
pub(super) const FIRST_VERSION: i64 = 1;

/// Inserts the saga row; `false` when the idempotency key is taken.
pub(super) async fn insert_saga(tx: &mut Tx, new: &NewSaga<'_>) -> Result<bool, StoreError> {
    let (request, state) = (to_json(new.request)?, to_json(new.state)?);
    let inserted = on_backend!(tx, conn => sqlx::query(
        "INSERT INTO sagas (saga_id, idempotency_key, request, state, status, version, log_len,
                            created_at_ms, updated_at_ms, owner, lease_until_ms)
         VALUES ($1, $2, $3, $4, $5, $10, $6, $7, $7, $8, $9)
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
    .bind(FIRST_VERSION)
    .execute(conn)
    .await?
    .rows_affected());
    Ok(inserted == 1)
}

/// Replaces the saga's state if it is still at the expected version.
pub(super) async fn update_saga(tx: &mut Tx, w: &SagaWrite<'_>) -> Result<bool, StoreError> {
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

/// Who appends records, and the saga version their write produced.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stamp<'a> {
    pub writer: &'a str,
    pub version: i64,
    pub now_ms: i64,
}

/// Appends `records` after the saga's `log_len` existing ones.
pub(super) async fn insert_log(
    tx: &mut Tx,
    saga_id: &str,
    log_len: u32,
    records: &[LogRecord],
    stamp: Stamp<'_>,
) -> Result<(), StoreError> {
    for (seq, r) in (i64::from(log_len) + 1..).zip(records) {
        on_backend!(tx, conn => sqlx::query(
            "INSERT INTO saga_log (saga_id, seq, step, outcome, attempt, detail, status, at_ms,
                                   writer, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(saga_id)
        .bind(seq)
        .bind(r.step.as_str())
        .bind(r.outcome.as_str())
        .bind(i64::from(r.attempt))
        .bind(&r.detail)
        .bind(r.status.as_str())
        .bind(stamp.now_ms)
        .bind(stamp.writer)
        .bind(stamp.version)
        .execute(conn)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// How a saga is looked up.
#[derive(Debug, Clone, Copy)]
pub(super) enum SagaKey<'a> {
    Id(&'a str),
    Key(&'a str),
}

pub(super) async fn select_saga(
    tx: &mut Tx,
    key: SagaKey<'_>,
) -> Result<Option<SagaRecord>, StoreError> {
    let (sql, value) = match key {
        SagaKey::Id(id) => (select_sagas!("WHERE saga_id = $1"), id),
        SagaKey::Key(key) => (select_sagas!("WHERE idempotency_key = $1"), key),
    };
    on_backend!(tx, conn => {
        let row = sqlx::query(sql).bind(value).fetch_optional(conn).await?;
        row.as_ref().map(saga_from_row).transpose()
    })
}

pub(super) async fn select_log(tx: &mut Tx, saga_id: &str) -> Result<Vec<LogEntry>, StoreError> {
    on_backend!(tx, conn => {
        let rows = sqlx::query(
            "SELECT seq, step, outcome, attempt, detail, status, at_ms, writer, version
             FROM saga_log WHERE saga_id = $1 ORDER BY seq",
        )
        .bind(saga_id)
        .fetch_all(conn)
        .await?;
        rows.iter().map(log_from_row).collect()
    })
}

pub(super) fn saga_from_row(row: &impl RowExt) -> Result<SagaRecord, StoreError> {
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
        writer: row.text("writer")?,
        version: row.int("version")?,
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
