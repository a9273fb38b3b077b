//! A SQLite transaction that can hold writes back and send them with its COMMIT.
//!
//! sqlx runs every statement on the connection's own thread and wakes the caller after
//! it: each statement is a hand-off, which on a busy machine waits for a CPU twice. A
//! write whose result nobody reads before the commit (a group writer's barrier records
//! and rows) can wait and go with the COMMIT as one script, so a batch pays one hand-off
//! for all of them. The transaction is SQLite's own `BEGIN … COMMIT` on a pooled
//! connection, as sqlx's transaction type cannot end in a script; one dropped unfinished
//! closes its connection, which rolls it back.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection, SqlitePool};

use super::{Values, Written};

/// An open SQLite transaction, with the writes it holds back.
#[derive(Debug)]
pub struct SqliteTx {
    conn: PoolConnection<Sqlite>,
    /// The held-back statements, each ending in `;`, and their values in order (their
    /// placeholders are anonymous).
    later: String,
    values: SqliteArguments,
    /// Writes wait for the commit.
    holding: bool,
    /// Committed or rolled back: the connection may go back to the pool.
    ended: bool,
}

impl SqliteTx {
    /// Begins a transaction on a connection of `pool` with `begin` (`BEGIN IMMEDIATE`
    /// takes the write lock at once). A caller that gives up while it runs closes the
    /// connection rather than hand it back inside a transaction.
    pub async fn begin(pool: &SqlitePool, begin: &'static str) -> Result<Self, sqlx::Error> {
        let mut tx = Self::on(pool.acquire().await?);
        if let Err(error) = sqlx::raw_sql(begin).execute(&mut *tx.conn).await {
            // Nothing began: the connection goes back as it was.
            tx.ended = true;
            return Err(error);
        }
        Ok(tx)
    }

    /// `conn`, not yet known to be out of a transaction: dropped as it is, it is closed.
    fn on(conn: PoolConnection<Sqlite>) -> Self {
        Self {
            conn,
            later: String::new(),
            values: SqliteArguments::default(),
            holding: false,
            ended: false,
        }
    }

    /// From now on, writes through [`crate::write_later!`] wait for the commit (until
    /// [`SqliteTx::flush`]).
    pub fn hold_writes(&mut self) {
        self.holding = true;
    }

    /// Where the next write's values go: after the held-back ones while holding, else
    /// into an empty buffer for the write alone (emptied here, so that the values of a
    /// write that failed to bind never reach the next one).
    pub fn values(&mut self) -> Values<'_, SqliteArguments> {
        if !self.holding {
            self.values = SqliteArguments::default();
        }
        Values::new(&mut self.values)
    }

    /// Runs `statement`, its values bound through [`SqliteTx::values`], now; or, while
    /// holding, with the commit.
    pub async fn write(&mut self, statement: &str) -> Result<Written, sqlx::Error> {
        if self.holding {
            self.later.push_str(statement);
            self.later.push(';');
            return Ok(Written::WithCommit);
        }
        let values = std::mem::take(&mut self.values);
        let done = sqlx::query_with(AssertSqlSafe(statement), values)
            .execute(&mut *self.conn)
            .await?;
        Ok(Written::Now(done.rows_affected()))
    }

    /// Fails the commit unless the last held-back statement changed `rows` rows; the
    /// transaction then rolls back whole.
    pub fn expect_changes_later(&mut self, rows: u64) -> Result<(), sqlx::Error> {
        self.later
            .push_str(concat!(crate::sqlite_changes_guard!(), ";"));
        self.values().bind(i64::try_from(rows).unwrap_or(i64::MAX))
    }

    /// Runs the held-back writes, if any, now, and stops holding writes back.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        self.holding = false;
        if self.later.is_empty() {
            return Ok(());
        }
        let (sql, values) = self.take_later();
        sqlx::query_with(AssertSqlSafe(sql), values)
            .execute(&mut *self.conn)
            .await
            .map(drop)
    }

    /// Runs the held-back writes and commits, in one hand-off; on an error nothing is
    /// committed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let (mut sql, values) = self.take_later();
        sql.push_str("COMMIT");
        let committed = sqlx::query_with(AssertSqlSafe(sql), values)
            .execute(&mut *self.conn)
            .await;
        // After a failed statement before the COMMIT the transaction is still open.
        self.ended = committed.is_ok() || roll_back(&mut self.conn).await.is_ok();
        committed.map(drop)
    }

    /// Rolls back, held-back writes and all.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.take_later();
        let rolled_back = roll_back(&mut self.conn).await;
        self.ended = rolled_back.is_ok();
        rolled_back
    }

    fn take_later(&mut self) -> (String, SqliteArguments) {
        (
            std::mem::take(&mut self.later),
            std::mem::take(&mut self.values),
        )
    }
}

/// Runs `script`, a whole transaction from its `BEGIN` to its `COMMIT`, on a connection
/// of `pool` in one hand-off. On an error, or if the caller gives up, nothing is
/// committed: what the script began is rolled back, or its connection closed, which
/// rolls it back.
pub async fn run_script(
    pool: &SqlitePool,
    script: Query<'_, Sqlite, SqliteArguments>,
) -> Result<(), sqlx::Error> {
    let mut tx = SqliteTx::on(pool.acquire().await?);
    let ran = script.execute(&mut *tx.conn).await;
    tx.ended = ran.is_ok() || roll_back(&mut tx.conn).await.is_ok();
    ran.map(drop)
}

async fn roll_back(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("ROLLBACK").execute(conn).await.map(drop)
}

/// A statement that fails unless the statement before it changed `?` rows, to stop a
/// script inside its transaction (SQLite has no RAISE outside triggers: the error is
/// `json()` of a text that is not JSON). A literal, for scripts built with `concat!`.
#[macro_export]
macro_rules! sqlite_changes_guard {
    () => {
        "SELECT json(CASE WHEN changes() = ? THEN '0' ELSE 'changed' END)"
    };
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.ended {
            // Closing the connection rolls back what it holds.
            self.conn.close_on_drop();
        }
    }
}

impl Deref for SqliteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

#[cfg(test)]
#[path = "sqlite_tx_tests.rs"]
mod tests;
