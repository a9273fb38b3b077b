//! A service's database, on either backend: SQLite files (the embedded default) or
//! PostgreSQL. Statements are written once, with `$1`-style placeholders that both
//! backends accept, and run on whichever backend a [`Tx`] holds through [`on_backend!`].

mod batches;
mod group;
#[cfg(test)]
mod group_tests;
mod pg_tx;
mod placeholders;
mod postgres;
mod rows;
mod sqlite;
mod sqlite_tx;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::{Arguments, Encode, PgPool, Type};

pub use batches::run_batches;
pub use group::{GroupWriter, TxFuture};
pub use pg_tx::PgTx;
pub use placeholders::{list as placeholder_list, one as placeholder, rows as placeholder_rows};
pub use postgres::{fresh_postgres_database, open_postgres};
pub use rows::RowExt;
pub use sqlite::{SqlitePools, begin_write, default_url, open_sqlite};
pub use sqlite_tx::{SqliteTx, run_script};

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database url {0:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database")]
    Connect(#[from] sqlx::Error),
    #[error("cannot apply migrations")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl OpenError {
    /// Whether trying again may succeed: the server could not be reached, or a statement
    /// failed (a lost reply, a restart). A bad URL or option, a data folder that cannot
    /// be made, or migrations that do not match the database will not heal.
    pub fn may_heal(&self) -> bool {
        use sqlx::migrate::MigrateError;
        match self {
            OpenError::Connect(sqlx::Error::Configuration(_)) => false,
            OpenError::Connect(_) => true,
            OpenError::Migrate(MigrateError::Execute(_) | MigrateError::ExecuteMigration(..)) => {
                true
            }
            OpenError::Migrate(_) | OpenError::UnsupportedUrl(_) | OpenError::DataDir { .. } => {
                false
            }
        }
    }
}

/// The default of every service's `--startup-timeout-ms`.
pub const DEFAULT_STARTUP_TIMEOUT_MS: u64 = 30_000;

/// A service's migrations, one set per backend (their SQL differs in types only).
#[derive(Debug)]
pub struct Migrations {
    pub sqlite: Migrator,
    pub postgres: Migrator,
}

/// The connections of either backend.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// An open transaction of either backend.
#[derive(Debug)]
pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(PgTx),
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Milliseconds since the Unix epoch by the wall clock, for `*_at_ms` columns. Computed
/// here rather than in SQL, so one statement serves both backends (`unixepoch()` is
/// SQLite's alone).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

impl Db {
    /// Opens the database at `url` (`sqlite://PATH` or `postgres://…`) and applies the
    /// migrations of its backend.
    pub async fn open(url: &str, migrations: &Migrations) -> Result<Self, OpenError> {
        if is_postgres(url) {
            return Ok(Db::Postgres(
                open_postgres(url, &migrations.postgres).await?,
            ));
        }
        Ok(Db::Sqlite(open_sqlite(url, &migrations.sqlite).await?))
    }

    /// [`Db::open`], tried again with backoff while the failure [may heal](OpenError::may_heal)
    /// for up to `patience`, so that a database that restarts or loses a reply as the
    /// service starts does not stop it; then the last error.
    pub async fn open_patiently(
        url: &str,
        migrations: &Migrations,
        patience: Duration,
    ) -> Result<Self, OpenError> {
        let give_up = tokio::time::Instant::now() + patience;
        let mut pause = Duration::from_millis(50);
        loop {
            match Self::open(url, migrations).await {
                Ok(db) => return Ok(db),
                Err(error) if error.may_heal() && tokio::time::Instant::now() + pause < give_up => {
                    tracing::warn!(error = %crate::telemetry::error_chain(&error), retry_in_ms = pause.as_millis(), "cannot open the database yet");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Begins a read-write transaction. On SQLite it takes the write lock at once, so
    /// concurrent writers queue instead of failing on a lock upgrade. On PostgreSQL it
    /// runs at READ COMMITTED whatever the database's default: each statement sees what
    /// committed before it, which the barrier needs once it holds a saga's lock (under
    /// REPEATABLE READ a create and its racing cancel could each miss the other's record).
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        self.begin_write_locked(&[]).await
    }

    /// [`Db::begin_write`], holding the transaction-scoped advisory locks `keys` on
    /// PostgreSQL, taken in key order (so two transactions never wait for each other in
    /// a circle) in the same round trip as the BEGIN. SQLite's write transaction already
    /// excludes every other writer.
    pub async fn begin_write_locked(&self, keys: &[i64]) -> Result<Tx, sqlx::Error> {
        const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
        Ok(match self {
            Db::Sqlite(pools) => Tx::Sqlite(begin_write(pools).await?),
            Db::Postgres(pool) if keys.is_empty() => Tx::Postgres(PgTx::begin(pool, BEGIN).await?),
            Db::Postgres(pool) => {
                let mut keys = keys.to_vec();
                keys.sort_unstable();
                keys.dedup();
                let keys: Vec<String> = keys.iter().map(i64::to_string).collect();
                // Integers only: nothing in the literal comes from a caller as text.
                let begin = format!(
                    "{BEGIN}; SELECT pg_advisory_xact_lock(k) \
                     FROM (SELECT k FROM unnest('{{{}}}'::int8[]) AS k ORDER BY k) AS keys",
                    keys.join(",")
                );
                Tx::Postgres(PgTx::begin(pool, &begin).await?)
            }
        })
    }

    /// Begins a read-only transaction that sees one snapshot.
    pub async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pools) => Tx::Sqlite(SqliteTx::begin(&pools.reads, "BEGIN").await?),
            Db::Postgres(pool) => Tx::Postgres(
                PgTx::begin(pool, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?,
            ),
        })
    }

    /// Whether the database answers a trivial query within `within`.
    pub async fn ping(&self, within: std::time::Duration) -> bool {
        let answered = async {
            match self {
                Db::Sqlite(pools) => sqlx::query("SELECT 1").execute(&pools.reads).await.is_ok(),
                Db::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
            }
        };
        tokio::time::timeout(within, answered)
            .await
            .unwrap_or(false)
    }

    /// Closes every connection (on SQLite, the write connection and the read pool).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pools) => {
                pools.writes.close().await;
                pools.reads.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    /// Commits the transaction: once this returns, its writes are durable.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls the transaction back (dropping it unfinished does the same, later).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }

    /// From now on, writes through [`write_later!`](crate::write_later) wait for the
    /// commit and go with it: on SQLite in its script ([`SqliteTx`]), on PostgreSQL as
    /// one statement before it ([`PgTx`]), so none may change a row another changes.
    /// Nothing that must see them may run in between: [`Tx::flush`] first.
    pub fn hold_writes(&mut self) {
        match self {
            Tx::Sqlite(tx) => tx.hold_writes(),
            Tx::Postgres(tx) => tx.hold_writes(),
        }
    }

    /// Runs the writes held back so far and stops holding them.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.flush().await,
            Tx::Postgres(tx) => tx.flush().await,
        }
    }

    /// Requires that `written` changed `rows` rows (an optimistic check: another writer
    /// moved one of them since it was read): now when it ran now, else at the commit,
    /// which then fails whole.
    pub fn require_changes(&mut self, written: Written, rows: u64) -> Result<(), sqlx::Error> {
        match (written, self) {
            (Written::Now(changed), _) if changed == rows => Ok(()),
            (Written::Now(_), _) => Err(changed_since_read()),
            (Written::WithCommit, Tx::Sqlite(tx)) => tx.expect_changes_later(rows),
            (Written::WithCommit, Tx::Postgres(tx)) => tx.expect_changes_later(rows),
        }
    }
}

/// The error of an optimistic check that failed: another writer moved a row since it
/// was read.
fn changed_since_read() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other("a row changed since it was read"))
}

/// What a write through [`write_later!`](crate::write_later) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// It ran, changing this many rows.
    Now(u64),
    /// It waits for the commit.
    WithCommit,
}

/// The values of one statement, bound in the order of its placeholders.
#[derive(Debug)]
pub struct Values<'a, A>(&'a mut A);

impl<A: Arguments> Values<'_, A> {
    pub fn new(arguments: &mut A) -> Values<'_, A> {
        Values(arguments)
    }

    /// Binds the next placeholder.
    pub fn bind<'t, T>(&mut self, value: T) -> Result<(), sqlx::Error>
    where
        T: Encode<'t, A::Database> + Type<A::Database>,
    {
        self.0.add(value).map_err(sqlx::Error::Encode)
    }
}

/// Runs the same statement code on the connection of whichever backend `tx` holds:
/// `on_backend!(tx, conn => sqlx::query("…").bind(x).execute(conn).await)`. The body is
/// compiled once per backend, so it needs no generic bounds.
#[macro_export]
macro_rules! on_backend {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Runs a write whose answer nobody needs before the commit: `write_later!(tx, sql,
/// values => { values.bind(x)?; … })` (anonymous placeholders on SQLite, see
/// [`placeholder_rows`]). Held back for the commit while the transaction
/// [holds writes](Tx::hold_writes), else run now; gives [`Written`]. The binds are
/// compiled once per backend, as with [`on_backend!`].
#[macro_export]
macro_rules! write_later {
    ($tx:expr, $sql:expr, $values:ident => $binds:block) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                {
                    let mut $values = tx.values();
                    $binds
                }
                tx.write($sql).await
            }
            $crate::db::Tx::Postgres(tx) => {
                {
                    let mut $values = tx.values();
                    $binds
                }
                tx.write($sql).await
            }
        }
    };
}
