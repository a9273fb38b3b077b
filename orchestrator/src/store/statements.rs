//! The saga log's reads, one function per statement, shared by the group committer and
//! the readers; `$n` placeholders, which both backends accept. Writes are in `writes`.

use service_kit::db::{Db, RowExt, Tx};
use service_kit::on_backend;

use super::{LogEntry, SagaRecord, StoreError};
use saga_definitions::machine::{LogRecord, Operation, Outcome, SagaStatus};

/// The saga holding the idempotency key `key`, without its log.
pub(super) async fn select_saga_by_key(
    tx: &mut Tx,
    key: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    on_backend!(tx, conn => {
        let row = sqlx::query(select_sagas!("WHERE idempotency_key = $1"))
            .bind(key)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(saga_from_row).transpose()
    })
}

/// The saga `saga_id` with its whole log, in one statement: one snapshot on both
/// backends without a transaction, and on SQLite one hand-off to a connection's thread
/// instead of four (BEGIN, two reads, COMMIT).
pub(super) async fn select_saga_with_log(
    db: &Db,
    saga_id: &str,
) -> Result<Option<SagaRecord>, StoreError> {
    const SQL: &str = concat!(
        "SELECT * FROM (",
        select_sagas!("WHERE saga_id = $1"),
        ") AS s LEFT JOIN (
           SELECT seq AS log_seq, step, operation, outcome, attempt, detail, status, at_ms,
                  writer, version AS log_version
           FROM saga_log WHERE saga_id = $1
         ) AS l ON TRUE
         ORDER BY l.log_seq"
    );
    match db {
        Db::Sqlite(pools) => saga_with_log(
            &sqlx::query(SQL)
                .bind(saga_id)
                .fetch_all(&pools.reads)
                .await?,
        ),
        Db::Postgres(pool) => saga_with_log(&sqlx::query(SQL).bind(saga_id).fetch_all(pool).await?),
    }
}

/// The saga of the first of `rows` and the log entries of them all (none when the log
/// columns are NULL: a saga without records).
fn saga_with_log<R: RowExt>(rows: &[R]) -> Result<Option<SagaRecord>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut saga = saga_from_row(first)?;
    for row in rows {
        if row.opt_int("log_seq")?.is_some() {
            saga.log
                .push(log_from_columns(row, "log_seq", "log_version")?);
        }
    }
    Ok(Some(saga))
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

/// A log entry from `row`, whose sequence number and version are in the columns named.
fn log_from_columns(
    row: &impl RowExt,
    seq: &'static str,
    version: &'static str,
) -> Result<LogEntry, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("{what} {value:?}"));
    let (outcome, status) = (row.text("outcome")?, row.text("status")?);
    let operation = row.text("operation")?;
    let operation = match operation.as_str() {
        "" => None,
        text => Some(Operation::parse(text).ok_or_else(|| corrupt("operation", text))?),
    };
    Ok(LogEntry {
        seq: small(row.int(seq)?)?,
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
        version: row.int(version)?,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn small(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{value} out of range")))
}
