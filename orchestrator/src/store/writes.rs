//! The saga log's writes, many sagas per statement: a group commit's new sagas are one
//! multi-row INSERT, its transitions one `UPDATE … FROM (VALUES …)` fenced by version,
//! its log records one multi-row INSERT. A batch so costs a few statements (round trips
//! on PostgreSQL, hand-offs to the SQLite connection's thread) however many sagas it
//! holds. Rows go in chunks of a power of two, so each statement has one of a few
//! shapes and stays in the prepared-statement cache. On SQLite the placeholders are
//! anonymous (`?`): sqlx asks SQLite the name of every parameter it binds, a linear search
//! through the statement's named ones, so `$n` would cost time quadratic in the rows.

use std::collections::HashSet;

use service_kit::db::Tx;
use service_kit::on_backend;
use sqlx::AssertSqlSafe;

use super::{NewSaga, SagaWrite, StoreError};
use saga_definitions::machine::LogRecord;

/// A new saga's version.
pub const FIRST_VERSION: i64 = 1;

/// Rows per statement at most (a power of two): 128 × 13 bound values stays far inside
/// both backends' limits.
const MAX_ROWS: usize = 128;

/// Records appended to one saga's log by one write.
#[derive(Debug, Clone, Copy)]
pub(super) struct Append<'a> {
    pub saga_id: &'a str,
    /// Records the saga had before; the first one appended gets `log_len + 1`.
    pub log_len: u32,
    pub records: &'a [LogRecord],
    /// The replica writing them.
    pub writer: &'a str,
    /// The saga's version after the write.
    pub version: i64,
    pub now_ms: i64,
}

/// A new saga's first records, by the replica that accepted it.
pub(super) fn first_records<'a>(new: &'a NewSaga<'a>) -> Append<'a> {
    Append {
        saga_id: new.saga_id,
        log_len: 0,
        records: new.log,
        writer: new.lease.owner,
        version: FIRST_VERSION,
        now_ms: new.now_ms,
    }
}

/// A transition's records, after the saga's existing ones.
pub(super) fn transition_records<'a>(write: &'a SagaWrite<'a>) -> Append<'a> {
    Append {
        saga_id: write.saga_id,
        log_len: write.log_len,
        records: write.log,
        writer: write.writer,
        version: write.expected_version + 1,
        now_ms: write.now_ms,
    }
}

/// Inserts the sagas whose idempotency key is free; returns the ids inserted.
pub(super) async fn insert_sagas(
    tx: &mut Tx,
    sagas: &[NewSaga<'_>],
) -> Result<HashSet<String>, StoreError> {
    const HEAD: &str = "INSERT INTO sagas (saga_id, idempotency_key, definition,
        definition_version, input, state, status, version, log_len, created_at_ms,
        updated_at_ms, trace_context, owner, lease_until_ms) VALUES ";
    const TAIL: &str = " ON CONFLICT (idempotency_key) DO NOTHING RETURNING saga_id";
    // The lease, the last column, counts from the database's time.
    let lease_from = match tx {
        Tx::Sqlite(_) => concat!(db_now_ms!(sqlite), " + "),
        Tx::Postgres(_) => concat!(db_now_ms!(postgres), " + "),
    };
    let mut inserted = HashSet::with_capacity(sagas.len());
    for chunk in chunks(sagas) {
        let json = chunk
            .iter()
            .map(|new| Ok((to_json(new.input)?, to_json(new.state)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let sql = values_sql(numbered(tx), HEAD, 14, chunk.len(), lease_from, TAIL);
        let ids: Vec<String> = on_backend!(tx, conn => {
            let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
            for (new, (input, state)) in chunk.iter().zip(&json) {
                query = query
                    .bind(new.saga_id)
                    .bind(new.idempotency_key)
                    .bind(new.definition)
                    .bind(i64::from(new.definition_version))
                    .bind(input)
                    .bind(state)
                    .bind(new.state.status().as_str())
                    .bind(FIRST_VERSION)
                    .bind(count(new.log.len()))
                    .bind(new.now_ms)
                    .bind(new.now_ms)
                    .bind(new.trace_context)
                    .bind(new.lease.owner)
                    .bind(new.lease.ms);
            }
            query.fetch_all(conn).await?
        });
        inserted.extend(ids);
    }
    Ok(inserted)
}

/// Replaces each saga's state if it is still at the version its writer read, the writer
/// holding it from then on (a driver's own saga, or one an operator's request took over);
/// returns the ids updated (the others were fenced).
pub(super) async fn update_sagas(
    tx: &mut Tx,
    writes: &[SagaWrite<'_>],
) -> Result<HashSet<String>, StoreError> {
    // VALUES columns are column1… on both backends; the lease counts from the
    // database's time.
    macro_rules! head {
        ($backend:ident) => {
            concat!(
                "UPDATE sagas SET state = v.column3, status = v.column4,
                 version = sagas.version + 1, log_len = v.column5, updated_at_ms = v.column6,
                 owner = v.column7, lease_until_ms = ",
                db_now_ms!($backend),
                " + v.column8 FROM (VALUES "
            )
        };
    }
    let head = match tx {
        Tx::Sqlite(_) => head!(sqlite),
        Tx::Postgres(_) => head!(postgres),
    };
    const TAIL: &str = ") AS v
        WHERE sagas.saga_id = v.column1 AND sagas.version = v.column2
        RETURNING sagas.saga_id";
    let mut updated = HashSet::with_capacity(writes.len());
    for chunk in chunks(writes) {
        let states = chunk
            .iter()
            .map(|w| to_json(w.state))
            .collect::<Result<Vec<_>, _>>()?;
        let sql = values_sql(numbered(tx), head, 8, chunk.len(), "", TAIL);
        let ids: Vec<String> = on_backend!(tx, conn => {
            let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
            for (w, state) in chunk.iter().zip(&states) {
                query = query
                    .bind(w.saga_id)
                    .bind(w.expected_version)
                    .bind(state)
                    .bind(w.state.status().as_str())
                    .bind(i64::from(w.log_len) + count(w.log.len()))
                    .bind(w.now_ms)
                    .bind(w.writer)
                    .bind(w.lease_ms);
            }
            query.fetch_all(conn).await?
        });
        updated.extend(ids);
    }
    Ok(updated)
}

/// Appends every write's records to its saga's log.
pub(super) async fn insert_logs(tx: &mut Tx, appends: &[Append<'_>]) -> Result<(), StoreError> {
    const HEAD: &str = "INSERT INTO saga_log (saga_id, seq, step, operation, outcome, attempt,
        detail, status, at_ms, writer, version) VALUES ";
    let rows = log_rows(appends);
    for chunk in chunks(&rows) {
        let sql = values_sql(numbered(tx), HEAD, 11, chunk.len(), "", "");
        on_backend!(tx, conn => {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (seq, a, r) in chunk {
                query = query
                    .bind(a.saga_id)
                    .bind(seq)
                    .bind(r.step.as_str())
                    .bind(r.operation.map_or("", |o| o.as_str()))
                    .bind(r.outcome.as_str())
                    .bind(i64::from(r.attempt))
                    .bind(&r.detail)
                    .bind(r.status.as_str())
                    .bind(a.now_ms)
                    .bind(a.writer)
                    .bind(a.version);
            }
            query.execute(conn).await?;
        });
    }
    Ok(())
}

/// Every record the appends hold, with its place in its saga's log.
pub(super) fn log_rows<'a>(appends: &'a [Append<'a>]) -> Vec<(i64, &'a Append<'a>, &'a LogRecord)> {
    appends
        .iter()
        .flat_map(|a| {
            (i64::from(a.log_len) + 1..)
                .zip(a.records)
                .map(move |(seq, r)| (seq, a, r))
        })
        .collect()
}

/// `items` in chunks of the largest power of two that fits, at most [`MAX_ROWS`].
fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let take = MAX_ROWS.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(take);
        rest = tail;
        Some(chunk)
    })
}

/// Whether `tx`'s placeholders are numbered (`$n`, PostgreSQL) or anonymous (`?`, SQLite).
fn numbered(tx: &Tx) -> bool {
    matches!(tx, Tx::Postgres(_))
}

/// `head`, then `rows` tuples of `width` placeholders in the order of the values bound
/// (`$1`, `$2`, … when `numbered`, else `?`; the last of each after `last_prefix`, an SQL
/// expression's start), then `tail`.
fn values_sql(
    numbered: bool,
    head: &str,
    width: usize,
    rows: usize,
    last_prefix: &str,
    tail: &str,
) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * width * 5);
    sql.push_str(head);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            if column + 1 == width {
                sql.push_str(last_prefix);
            }
            match numbered {
                true => {
                    sql.push('$');
                    sql.push_str(&(row * width + column + 1).to_string());
                }
                false => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn count(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_in_power_of_two_chunks_of_at_most_max_rows() {
        let items: Vec<usize> = (0..300).collect();
        let sizes: Vec<usize> = chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![128, 128, 32, 8, 4]);
        assert_eq!(chunks(&items[..0]).count(), 0);
    }

    #[test]
    fn placeholders_number_across_rows_or_go_in_order() {
        assert_eq!(
            values_sql(true, "INSERT INTO t VALUES ", 2, 2, "7 + ", " RETURNING x"),
            "INSERT INTO t VALUES ($1, 7 + $2), ($3, 7 + $4) RETURNING x"
        );
        assert_eq!(
            values_sql(false, "INSERT INTO t VALUES ", 2, 2, "7 + ", ""),
            "INSERT INTO t VALUES (?, 7 + ?), (?, 7 + ?)"
        );
    }
}
