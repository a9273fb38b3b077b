//! Decoding stored rows into records, shared by both backends (columns are TEXT and
//! 64-bit integers on both).

use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{LogEntry, SagaRecord, StoreError};
use crate::saga::{LogRecord, Outcome, SagaStatus, Step};

/// A row type whose TEXT and integer columns decode as `String` and `i64`.
pub(super) trait SagaRow: Row {
    fn text(&self, column: &'static str) -> Result<String, StoreError>;
    fn int(&self, column: &'static str) -> Result<i64, StoreError>;
}

impl<R> SagaRow for R
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &'static str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// A `sagas` row as a record (without its log).
pub(super) fn saga(row: &impl SagaRow) -> Result<SagaRecord, StoreError> {
    Ok(SagaRecord {
        row: row.int("seq")?,
        saga_id: row.text("saga_id")?,
        idempotency_key: row.text("idempotency_key")?,
        request: from_json(&row.text("request")?)?,
        state: from_json(&row.text("state")?)?,
        version: row.int("version")?,
        log_len: small(row.int("log_len")?)?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
        log: Vec::new(),
    })
}

/// A `saga_log` row as an entry.
pub(super) fn log_entry(row: &impl SagaRow) -> Result<LogEntry, StoreError> {
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

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn small(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} out of range")))
}

/// A count as a stored integer.
pub(super) fn count(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}
