//! The saga log's reads, one function per statement, shared by the group committer and
//! the readers; `$n` placeholders, which both backends accept. Writes are in `writes`.

use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use super::{LogEntry, SagaRecord, StoreError};
use saga_definitions::machine::{LogRecord, Operation, Outcome, SagaStatus};

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
            "SELECT seq, step, operation, outcome, attempt, detail, status, at_ms, writer, version
             FROM saga_log WHERE saga_id = $1 ORDER BY seq",
        )
        .bind(saga_id)
        .fetch_all(conn)
        .await?;
        rows.iter().map(log_from_row).collect()
    })
}

pub(super) fn saga_from_row(row: &impl RowExt) -> Result<SagaRecord, StoreError> {
    let input: serde_json::Value = from_json(&row.text("input")?)?;
    Ok(SagaRecord {
        row: row.int("seq")?,
        saga_id: row.text("saga_id")?,
        idempotency_key: row.text("idempotency_key")?,
        definition: row.text("definition")?,
        definition_version: small(row.int("definition_version")?)?,
        state: crate::upgrade::state_from_json(&row.text("state")?, &input)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        input,
        version: row.int("version")?,
        log_len: small(row.int("log_len")?)?,
        owner: row.text("owner")?,
        lease_until_ms: row.int("lease_until_ms")?,
        created_at_ms: row.int("created_at_ms")?,
        updated_at_ms: row.int("updated_at_ms")?,
        trace_context: row.text("trace_context")?,
        log: Vec::new(),
    })
}

fn log_from_row(row: &impl RowExt) -> Result<LogEntry, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("{what} {value:?}"));
    let (outcome, status) = (row.text("outcome")?, row.text("status")?);
    let operation = row.text("operation")?;
    let operation = match operation.as_str() {
        "" => None,
        text => Some(Operation::parse(text).ok_or_else(|| corrupt("operation", text))?),
    };
    Ok(LogEntry {
        seq: small(row.int("seq")?)?,
        record: LogRecord {
            step: row.text("step")?,
            operation,
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

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn small(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} out of range")))
}
