//! Storage incidents. Stalls: the runner holds an exclusive write lock on a service's
//! database for a while (`BEGIN EXCLUSIVE` on a SQLite file; `LOCK TABLE … IN EXCLUSIVE
//! MODE` on every table of a PostgreSQL database), as another writer, a backup or a very
//! slow disk would, so that the service's writes wait or fail. Cuts: every connection of
//! the services to PostgreSQL is terminated, so their pools must reconnect.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, SqliteConnection};

use crate::backend::{Database, redact};
use crate::binaries::Binary;

/// How long taking the lock may wait for the service's own transactions to end.
const TAKE_TIMEOUT: Duration = Duration::from_millis(500);
/// The runner's own PostgreSQL connections say so, and are never cut.
pub(super) const APPLICATION_NAME: &str = "saga-chaos";

/// An exclusive lock on one database, held until [`StorageLock::release`] or drop.
#[derive(Debug)]
pub struct StorageLock {
    what: String,
    connection: Option<Locked>,
}

#[derive(Debug)]
enum Locked {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl StorageLock {
    /// Takes the lock; `None` when the database stayed busy or has no tables yet (the
    /// stall is then skipped). A SQLite file's journal mode is left as the service set it.
    pub async fn take(database: &Database) -> Result<Option<Self>> {
        let what = redact(&database.url());
        let connection = match database {
            Database::Sqlite(path) => {
                // Before the service's first start there is nothing to lock yet.
                if !path.is_file() {
                    return Ok(None);
                }
                let connection = SqliteConnectOptions::new()
                    .filename(path)
                    .busy_timeout(TAKE_TIMEOUT)
                    .connect()
                    .await
                    .with_context(|| format!("cannot open {what}"))?;
                lock_sqlite(connection).await.map(Locked::Sqlite)
            }
            Database::Postgres { url } => {
                let connection = connect_postgres(url).await?;
                lock_postgres(connection).await.map(Locked::Postgres)
            }
        };
        Ok(connection.map(|connection| Self {
            what,
            connection: Some(connection),
        }))
    }

    /// Ends the stall: rolls the empty transaction back and closes the connection.
    pub async fn release(mut self) -> Result<()> {
        match self.connection.take() {
            None => Ok(()),
            Some(Locked::Sqlite(connection)) => roll_back_and_close(connection, &self.what).await,
            Some(Locked::Postgres(connection)) => roll_back_and_close(connection, &self.what).await,
        }
    }
}

async fn roll_back_and_close<C>(mut connection: C, what: &str) -> Result<()>
where
    C: Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut connection)
        .await
        .with_context(|| format!("cannot unlock {what}"))?;
    connection
        .close()
        .await
        .with_context(|| format!("cannot close {what}"))
}

async fn lock_sqlite(mut connection: SqliteConnection) -> Option<SqliteConnection> {
    match sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut connection)
        .await
    {
        Ok(_) => Some(connection),
        Err(_) => {
            let _ = connection.close().await;
            None
        }
    }
}

/// Locks every table of the service (not the migrations' ledger) against writers;
/// readers go on, as with SQLite's WAL.
async fn lock_postgres(mut connection: PgConnection) -> Option<PgConnection> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(tablename) FROM pg_tables
         WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations' ORDER BY tablename",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap_or_default();
    let lock = format!("LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", "));
    let timeout = format!("SET LOCAL lock_timeout = {}", TAKE_TIMEOUT.as_millis());
    let locked = !tables.is_empty()
        && sqlx::query("BEGIN").execute(&mut connection).await.is_ok()
        && sqlx::query(AssertSqlSafe(timeout))
            .execute(&mut connection)
            .await
            .is_ok()
        && sqlx::query(AssertSqlSafe(lock))
            .execute(&mut connection)
            .await
            .is_ok();
    if locked {
        return Some(connection);
    }
    let _ = connection.close().await;
    None
}

/// Terminates every connection to `databases` but the runner's own; returns how many.
/// `server_url` names any database of the server the runner may connect to.
pub async fn drop_connections(server_url: &str, databases: &[String]) -> Result<u64> {
    let mut admin = connect_postgres(server_url).await?;
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = ANY($1) AND pid <> pg_backend_pid() AND application_name <> $2",
    )
    .bind(databases)
    .bind(APPLICATION_NAME)
    .fetch_all(&mut admin)
    .await
    .with_context(|| format!("cannot cut the connections on {}", redact(server_url)))?;
    let _ = admin.close().await;
    Ok(terminated.iter().filter(|t| **t).count() as u64)
}

/// The names of the services' PostgreSQL databases (none on SQLite).
pub fn postgres_names(databases: &BTreeMap<Binary, Database>) -> Result<Vec<String>> {
    databases
        .values()
        .filter_map(|d| match d {
            Database::Postgres { url } => Some(database_name(url)),
            Database::Sqlite(_) => None,
        })
        .collect()
}

/// The name of the PostgreSQL database a URL names.
pub fn database_name(url: &str) -> Result<String> {
    let options =
        PgConnectOptions::from_str(url).with_context(|| format!("bad URL {}", redact(url)))?;
    options
        .get_database()
        .map(str::to_string)
        .with_context(|| format!("{} names no database", redact(url)))
}

async fn connect_postgres(url: &str) -> Result<PgConnection> {
    PgConnectOptions::from_str(url)
        .with_context(|| format!("bad URL {}", redact(url)))?
        .application_name(APPLICATION_NAME)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", redact(url)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::backend::{Backend, POSTGRES_ENV};

    #[tokio::test]
    async fn a_held_lock_keeps_other_writers_out_until_released() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("x.db");
        let mut writer = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_millis(100))
            .connect()
            .await?;
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut writer)
            .await?;

        let lock = StorageLock::take(&Database::Sqlite(path.clone()))
            .await?
            .context("lock taken")?;
        let blocked = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut writer)
            .await;
        assert!(blocked.is_err(), "the write waited and gave up");

        lock.release().await?;
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut writer)
            .await?;
        Ok(())
    }

    #[tokio::test]
    async fn nothing_is_locked_before_the_database_exists() -> Result<()> {
        let missing = Database::Sqlite(Path::new("/nonexistent/x.db").to_path_buf());
        assert!(StorageLock::take(&missing).await?.is_none());
        Ok(())
    }

    #[tokio::test]
    async fn on_postgres_a_held_lock_keeps_writers_out_and_cut_connections_are_counted()
    -> Result<()> {
        let Some(Backend::Postgres { server_url }) = Backend::postgres_from_env() else {
            eprintln!("SKIPPED: {POSTGRES_ENV} is not set");
            return Ok(());
        };
        let url = service_kit::db::fresh_postgres_database(&server_url).await?;
        let mut writer = PgConnection::connect(&url).await?;
        for statement in ["CREATE TABLE t (x INTEGER)", "SET lock_timeout = 200"] {
            sqlx::query(statement).execute(&mut writer).await?;
        }
        let database = Database::Postgres { url: url.clone() };

        let lock = StorageLock::take(&database).await?.context("lock taken")?;
        let blocked = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut writer)
            .await;
        assert!(blocked.is_err(), "the write waited and gave up");
        lock.release().await?;
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut writer)
            .await?;

        let cut = drop_connections(&server_url, &[database_name(&url)?]).await?;
        let after = sqlx::query("SELECT 1").execute(&mut writer).await;
        assert_eq!((cut, after.is_err()), (1, true), "the writer was cut");
        Ok(())
    }

    #[test]
    fn names_the_database_of_a_url() -> Result<()> {
        assert_eq!(
            database_name("postgres://u@h:5/saga_test_1")?,
            "saga_test_1"
        );
        Ok(())
    }
}
