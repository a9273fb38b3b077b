//! A PostgreSQL transaction that can hold writes back and send them as one statement.
//!
//! Every statement is a round trip to the server and an executor start there, and on
//! this stack the server's CPU bounds PostgreSQL's throughput. A group writer's held
//! writes (the barrier's records, a plan's rows) go as one statement of writable CTEs
//! before the COMMIT, and a transaction may begin with statements of its own (the sagas'
//! locks) in the simple query of its BEGIN. Held writes share that statement's snapshot:
//! none may change a row another changes, or read what another writes.
//!
//! The transaction is the server's own `BEGIN … COMMIT` on a pooled connection, as
//! sqlx's transaction type cannot begin with more than its BEGIN (an error after it would
//! leave the connection in a failed transaction in the pool). One dropped unfinished (an
//! error, a caller that went away) is rolled back on a task of its own, as sqlx's does,
//! and its connection closed if that fails.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments, AssertSqlSafe, PgConnection, PgPool, Postgres, Row};

use super::{Values, Written, placeholders};

/// An open PostgreSQL transaction, with the writes it holds back.
#[derive(Debug)]
pub struct PgTx {
    /// Taken only by `Drop`.
    conn: Option<PoolConnection<Postgres>>,
    /// The held-back statements, their placeholders numbered on from the ones before.
    later: Vec<String>,
    values: PgArguments,
    /// Values bound by the held-back statements.
    bound: usize,
    /// Rows a held-back statement (by index) must change, or the commit fails.
    expected: Vec<(usize, u64)>,
    /// Writes wait for the commit.
    holding: bool,
    /// Committed or rolled back: the connection may go back to the pool.
    ended: bool,
}

impl PgTx {
    /// Begins a transaction on a connection of `pool` with `begin`, a simple query that
    /// may go on after its `BEGIN` (each statement of it a literal). A caller that gives
    /// up while it runs closes the connection rather than hand it back inside a
    /// transaction.
    pub async fn begin(pool: &PgPool, begin: &str) -> Result<Self, sqlx::Error> {
        let mut tx = Self::on(pool.acquire().await?);
        if let Err(error) = sqlx::raw_sql(AssertSqlSafe(begin)).execute(&mut *tx).await {
            // A statement after the BEGIN may have failed inside the transaction.
            tx.ended = roll_back(&mut tx).await.is_ok();
            return Err(error);
        }
        Ok(tx)
    }

    /// `conn`, not yet known to be out of a transaction: dropped as it is, it is closed.
    fn on(conn: PoolConnection<Postgres>) -> Self {
        Self {
            conn: Some(conn),
            later: Vec::new(),
            values: PgArguments::default(),
            bound: 0,
            expected: Vec::new(),
            holding: false,
            ended: false,
        }
    }

    /// From now on, writes through [`crate::write_later!`] wait for the commit (until
    /// [`PgTx::flush`]).
    pub fn hold_writes(&mut self) {
        self.holding = true;
    }

    /// Where the next write's values go: after the held-back ones while holding, else
    /// into an empty buffer for the write alone (emptied here, so that the values of a
    /// write that failed to bind never reach the next one).
    pub fn values(&mut self) -> Values<'_, PgArguments> {
        if !self.holding {
            self.values = PgArguments::default();
        }
        Values::new(&mut self.values)
    }

    /// Runs `statement`, its values bound through [`PgTx::values`] and numbered from
    /// `$1`, now; or, while holding, with the commit.
    pub async fn write(&mut self, statement: &str) -> Result<Written, sqlx::Error> {
        if self.holding {
            debug_assert_eq!(
                placeholders::highest(statement),
                self.values.len() - self.bound,
                "a held statement's placeholders and values: {statement}"
            );
            self.later
                .push(placeholders::shifted(statement, self.bound));
            self.bound = self.values.len();
            return Ok(Written::WithCommit);
        }
        let values = std::mem::take(&mut self.values);
        let done = sqlx::query_with(AssertSqlSafe(statement), values)
            .execute(&mut **self)
            .await?;
        Ok(Written::Now(done.rows_affected()))
    }

    /// Fails the commit unless the last held-back statement changed `rows` rows; the
    /// transaction then rolls back whole.
    pub fn expect_changes_later(&mut self, rows: u64) -> Result<(), sqlx::Error> {
        match self.later.len().checked_sub(1) {
            Some(last) => {
                self.expected.push((last, rows));
                Ok(())
            }
            None => Err(sqlx::Error::Protocol(
                "a check of a held write, with no write held".into(),
            )),
        }
    }

    /// Runs the held-back writes, if any, now, and stops holding writes back.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        self.holding = false;
        let later = std::mem::take(&mut self.later);
        let expected = std::mem::take(&mut self.expected);
        let values = std::mem::take(&mut self.values);
        self.bound = 0;
        let changed = match later.as_slice() {
            [] => return Ok(()),
            [alone] => vec![
                sqlx::query_with(AssertSqlSafe(alone.as_str()), values)
                    .execute(&mut **self)
                    .await?
                    .rows_affected(),
            ],
            _ => {
                let row = sqlx::query_with(AssertSqlSafe(one_statement(&later)), values)
                    .fetch_one(&mut **self)
                    .await?;
                counts(&row, later.len())?
            }
        };
        match expected
            .iter()
            .all(|&(at, rows)| changed.get(at) == Some(&rows))
        {
            true => Ok(()),
            false => Err(super::changed_since_read()),
        }
    }

    /// Runs the held-back writes and commits; on an error nothing is committed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = match self.flush().await {
            Ok(()) => sqlx::raw_sql("COMMIT").execute(&mut *self).await.map(drop),
            Err(error) => Err(error),
        };
        // After a failed statement before the COMMIT the transaction is still open.
        self.ended = committed.is_ok() || roll_back(&mut self).await.is_ok();
        committed
    }

    /// Rolls back, held-back writes and all.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let rolled_back = roll_back(&mut self).await;
        self.ended = rolled_back.is_ok();
        rolled_back
    }
}

/// The held-back statements as one: each a writable CTE, then how many rows each
/// changed, in order.
fn one_statement(statements: &[String]) -> String {
    let ctes: Vec<String> = statements
        .iter()
        .enumerate()
        .map(|(at, statement)| format!("w{at} AS ({statement} RETURNING 1)"))
        .collect();
    let counts: Vec<String> = (0..statements.len())
        .map(|at| format!("(SELECT count(*) FROM w{at})"))
        .collect();
    format!("WITH {} SELECT {}", ctes.join(", "), counts.join(", "))
}

fn counts(row: &PgRow, statements: usize) -> Result<Vec<u64>, sqlx::Error> {
    (0..statements)
        .map(|at| {
            let count: i64 = row.try_get(at)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .collect()
}

async fn roll_back(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("ROLLBACK").execute(conn).await.map(drop)
}

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take().filter(|_| !self.ended) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            // The rollback first waits out a statement the caller left running.
            Ok(runtime) => drop(runtime.spawn(async move {
                if roll_back(&mut conn).await.is_err() {
                    conn.close_on_drop();
                }
            })),
            // Closing the connection rolls back what it holds.
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl Deref for PgTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .as_deref()
            .expect("a PgTx holds its connection until dropped")
    }
}

impl DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
            .as_deref_mut()
            .expect("a PgTx holds its connection until dropped")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::Db;
    use crate::testing::{databases, orders_migrations};

    #[tokio::test]
    async fn a_transaction_begun_with_a_taken_lock_waits_until_its_holder_ends() {
        let (_dir, dbs) = databases(&orders_migrations()).await;
        // SQLite's write transactions run one at a time anyway.
        for db in dbs.into_iter().filter(|db| matches!(db, Db::Postgres(_))) {
            let first = db.begin_write_locked(&[7, 3, 7]).await.expect("begin");
            let second = tokio::spawn({
                let db = db.clone();
                async move { db.begin_write_locked(&[3]).await?.commit().await }
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(!second.is_finished(), "the second waits for the lock");
            first.commit().await.expect("commit");
            second
                .await
                .expect("join")
                .expect("the second begins once the first ended");
        }
    }

    #[test]
    fn held_statements_become_writable_ctes_counted_in_order() {
        let sql = one_statement(&[
            "INSERT INTO a VALUES ($1)".into(),
            "UPDATE b SET x = $2".into(),
        ]);
        assert_eq!(
            sql,
            "WITH w0 AS (INSERT INTO a VALUES ($1) RETURNING 1), \
             w1 AS (UPDATE b SET x = $2 RETURNING 1) \
             SELECT (SELECT count(*) FROM w0), (SELECT count(*) FROM w1)"
        );
    }
}
