//! A group commit on SQLite as one script: BEGIN, the batch's new sagas, transitions and
//! log records, COMMIT, handed to the connection's thread at once. sqlx runs every
//! statement on that thread and wakes the caller after it, so the batch statement by
//! statement (`batch::run_together`) costs five hand-offs or more, each waiting for a
//! CPU on a busy machine; the script costs one. The rows travel as three JSON arrays,
//! so the script is one constant text, prepared once per connection. They are read with
//! `jsonb_each`, whose rows are binary JSON: each field is read from them directly,
//! where `json_each` renders every row as text and parses it again (JSON functions
//! took 6 % of the orchestrator's CPU at concurrency 64 with `json_each`, 4 % with this).
//!
//! The script commits only when every saga was new and every transition unfenced: a
//! guard after the inserts and one after the transitions stop it otherwise
//! (`sqlite_changes_guard!`). It is then rolled back, and the caller runs the batch
//! statement by statement, which sorts out who was fenced or found a key taken.

use service_kit::db::run_script;
use sqlx::SqlitePool;

use super::writes::{
    Append, FIRST_VERSION, count, first_records, log_rows, to_json, transition_records,
};
use super::{NewSaga, SagaWrite, StoreError};

/// Binds, in order: the new sagas, their count, the transitions, their count, the log
/// records. The placeholders are anonymous, each used once: sqlx binds them in order
/// across the script's statements, but would bind numbered ones wrongly after the first
/// statement.
const SCRIPT: &str = concat!(
    "BEGIN IMMEDIATE;",
    "INSERT INTO sagas (saga_id, idempotency_key, definition, definition_version, input, ",
    "state, status, version, log_len, created_at_ms, updated_at_ms, trace_context, owner, ",
    "lease_until_ms) ",
    "SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, ",
    "value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, ",
    db_now_ms!(sqlite),
    " + (value->>13) FROM jsonb_each(?) WHERE true ",
    "ON CONFLICT (idempotency_key) DO NOTHING;",
    service_kit::sqlite_changes_guard!(),
    ";",
    "UPDATE sagas SET state = v.value->>2, status = v.value->>3, version = sagas.version + 1, ",
    "log_len = v.value->>4, updated_at_ms = v.value->>5, owner = v.value->>6, ",
    "lease_until_ms = ",
    db_now_ms!(sqlite),
    " + (v.value->>7) FROM jsonb_each(?) AS v ",
    "WHERE sagas.saga_id = v.value->>0 AND sagas.version = v.value->>1;",
    service_kit::sqlite_changes_guard!(),
    ";",
    "INSERT INTO saga_log (saga_id, seq, step, operation, outcome, attempt, detail, status, ",
    "at_ms, writer, version) ",
    "SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, ",
    "value->>7, value->>8, value->>9, value->>10 FROM jsonb_each(?);",
    "COMMIT;"
);

/// One write's rows in the script: its saga's row and its log records', each a JSON
/// array. The writer that queues the write serialises them, so that the committer, the
/// one stage every write passes in turn, only joins them.
#[derive(Debug)]
pub(super) struct Rows {
    saga: String,
    records: Vec<String>,
}

impl Rows {
    /// A new saga's rows, in the columns of the script's `INSERT INTO sagas`.
    pub fn of_new(new: &NewSaga<'_>) -> Result<Self, StoreError> {
        let saga = to_json(&(
            new.saga_id,
            new.idempotency_key,
            new.definition,
            new.definition_version,
            to_json(new.input)?,
            to_json(new.state)?,
            new.state.status().as_str(),
            FIRST_VERSION,
            count(new.log.len()),
            new.now_ms,
            new.now_ms,
            new.trace_context,
            new.lease.owner,
            new.lease.ms,
        ))?;
        Ok(Self {
            saga,
            records: records(&first_records(new))?,
        })
    }

    /// A transition's rows: the saga, the version its writer read, then the new values.
    pub fn of_write(write: &SagaWrite<'_>) -> Result<Self, StoreError> {
        let saga = to_json(&(
            write.saga_id,
            write.expected_version,
            to_json(write.state)?,
            write.state.status().as_str(),
            i64::from(write.log_len) + count(write.log.len()),
            write.now_ms,
            write.writer,
            write.lease_ms,
        ))?;
        Ok(Self {
            saga,
            records: records(&transition_records(write))?,
        })
    }
}

/// The rows of `INSERT INTO saga_log` for `append`.
fn records(append: &Append<'_>) -> Result<Vec<String>, StoreError> {
    log_rows(std::slice::from_ref(append))
        .into_iter()
        .map(|(seq, a, r)| {
            to_json(&(
                a.saga_id,
                seq,
                r.step.as_str(),
                r.operation.map_or("", |o| o.as_str()),
                r.outcome.as_str(),
                r.attempt,
                &r.detail,
                r.status.as_str(),
                a.now_ms,
                a.writer,
                a.version,
            ))
        })
        .collect()
}

/// Commits the rows of `news` and `writes` in one script, if every saga is new and every
/// write unfenced; an error: nothing committed (a guard stopped the script, or the
/// database failed).
pub(super) async fn commit(
    pool: &SqlitePool,
    news: &[&Rows],
    writes: &[&Rows],
) -> Result<(), StoreError> {
    let records = news.iter().chain(writes).flat_map(|rows| &rows.records);
    let script = sqlx::query(SCRIPT)
        .bind(array(news.iter().map(|rows| &rows.saga)))
        .bind(count(news.len()))
        .bind(array(writes.iter().map(|rows| &rows.saga)))
        .bind(count(writes.len()))
        .bind(array(records));
    Ok(run_script(pool, script).await?)
}

/// A JSON array of `rows`, each already JSON.
fn array<'a>(rows: impl Iterator<Item = &'a String>) -> String {
    let mut array = String::from("[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push_str(row);
    }
    array.push(']');
    array
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
