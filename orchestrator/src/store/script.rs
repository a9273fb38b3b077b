//! A group commit in one go: the batch's new sagas, transitions and log records handed to
//! the database at once, their rows as three JSON arrays, so that the text is one
//! constant, prepared once per connection.
//!
//! On SQLite, one script: BEGIN, the statements, COMMIT, handed to the connection's
//! thread at once. sqlx runs every statement on that thread and wakes the caller after
//! it, so the batch statement by statement (`batch::run_together`) costs five hand-offs
//! or more, each waiting for a CPU on a busy machine; the script costs one. The rows are
//! read with `jsonb_each`, whose rows are binary JSON: each field is read from them
//! directly, where `json_each` renders every row as text and parses it again (JSON
//! functions took 6 % of the orchestrator's CPU at concurrency 64 with `json_each`, 4 %
//! with this). The script commits only when every saga was new and every transition
//! unfenced: a guard after the inserts and one after the transitions stop it otherwise
//! (`sqlite_changes_guard!`). It is then rolled back, and the caller runs the batch
//! statement by statement, which sorts out who was fenced or found a key taken.
//!
//! On PostgreSQL, one statement: the inserts, the transitions and the log records as
//! writable CTEs, the records only of the sagas inserted or moved. A lone statement is
//! its own transaction, so the batch costs one round trip instead of one per statement
//! plus BEGIN and COMMIT. It answers the sagas it wrote; the caller sorts out the others
//! (fenced, or a key taken) statement by statement. It runs at the session's isolation:
//! under READ COMMITTED (the server's default) a transition whose row another writer
//! moved is re-checked on the new row and left out as fenced; under a stricter default
//! the statement fails instead, and the caller runs the whole batch statement by
//! statement in its own READ COMMITTED transactions.

use std::collections::HashSet;

use service_kit::db::{Db, run_script};

use super::writes::{
    Append, FIRST_VERSION, count, first_records, log_rows, to_json, transition_records,
};
use super::{NewSaga, SagaWrite, StoreError};

/// SQLite's script. Binds, in order: the new sagas, their count, the transitions, their
/// count, the log records. The placeholders are anonymous, each used once: sqlx binds
/// them in order across the script's statements, but would bind numbered ones wrongly
/// after the first statement.
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

/// PostgreSQL's statement. Binds the new sagas, the transitions and the log records;
/// returns the ids of the sagas inserted and moved. The transitions find their rows by
/// `saga_id = ANY(…)`, which the planner takes for a few rows and looks up in the index:
/// joined on the JSON's rows alone, which it takes for a hundred, it scanned the whole
/// table for every batch until the table held some 20,000 sagas.
const STATEMENT: &str = concat!(
    "WITH inserted AS (",
    "INSERT INTO sagas (saga_id, idempotency_key, definition, definition_version, input, ",
    "state, status, version, log_len, created_at_ms, updated_at_ms, trace_context, owner, ",
    "lease_until_ms) ",
    "SELECT v->>0, v->>1, v->>2, (v->>3)::bigint, v->>4, v->>5, v->>6, (v->>7)::bigint, ",
    "(v->>8)::bigint, (v->>9)::bigint, (v->>10)::bigint, v->>11, v->>12, ",
    db_now_ms!(postgres),
    " + (v->>13)::bigint FROM jsonb_array_elements($1::jsonb) AS v ",
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING saga_id), ",
    "moved AS (",
    "UPDATE sagas SET state = v->>2, status = v->>3, version = sagas.version + 1, ",
    "log_len = (v->>4)::bigint, updated_at_ms = (v->>5)::bigint, owner = v->>6, ",
    "lease_until_ms = ",
    db_now_ms!(postgres),
    " + (v->>7)::bigint FROM jsonb_array_elements($2::jsonb) AS v ",
    "WHERE sagas.saga_id = ANY(ARRAY(",
    "SELECT w->>0 FROM jsonb_array_elements($2::jsonb) AS w)) ",
    "AND sagas.saga_id = v->>0 AND sagas.version = (v->>1)::bigint ",
    "RETURNING sagas.saga_id), ",
    "written AS (SELECT saga_id FROM inserted UNION ALL SELECT saga_id FROM moved), ",
    "logged AS (",
    "INSERT INTO saga_log (saga_id, seq, step, operation, outcome, attempt, detail, status, ",
    "at_ms, writer, version) ",
    "SELECT v->>0, (v->>1)::bigint, v->>2, v->>3, v->>4, (v->>5)::bigint, v->>6, v->>7, ",
    "(v->>8)::bigint, v->>9, (v->>10)::bigint FROM jsonb_array_elements($3::jsonb) AS v ",
    "WHERE v->>0 IN (SELECT saga_id FROM written)) ",
    "SELECT saga_id FROM written"
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

/// What a commit in one go wrote.
#[derive(Debug, PartialEq)]
pub(super) enum Written {
    /// Every saga of the batch.
    All,
    /// Only these sagas; the others were fenced or found their key taken.
    Only(HashSet<String>),
}

/// Commits the rows of `news` and `writes` in one go; an error: nothing committed (a
/// guard stopped SQLite's script, or the database failed).
pub(super) async fn commit(
    db: &Db,
    news: &[&Rows],
    writes: &[&Rows],
) -> Result<Written, StoreError> {
    let (new_count, write_count) = (count(news.len()), count(writes.len()));
    let records = array(news.iter().chain(writes).flat_map(|rows| &rows.records));
    let news = array(news.iter().map(|rows| &rows.saga));
    let writes = array(writes.iter().map(|rows| &rows.saga));
    match db {
        Db::Sqlite(pools) => {
            let script = sqlx::query(SCRIPT)
                .bind(news)
                .bind(new_count)
                .bind(writes)
                .bind(write_count)
                .bind(records);
            run_script(&pools.writes, script).await?;
            Ok(Written::All)
        }
        Db::Postgres(pool) => {
            let written: Vec<String> = sqlx::query_scalar(STATEMENT)
                .bind(news)
                .bind(writes)
                .bind(records)
                .fetch_all(pool)
                .await?;
            Ok(Written::Only(written.into_iter().collect()))
        }
    }
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
