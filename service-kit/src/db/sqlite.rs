//! Opening a SQLite database: WAL, durable commits, migrations applied.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::sqlite::{SqliteSynchronous, SqliteTransaction};

use super::OpenError;

/// Opens (creating if needed) the SQLite database at `url` and applies `migrator`.
///
/// Commits are durable (`synchronous=FULL` in WAL mode): a call that was answered
/// survives a crash of the process or the machine.
pub async fn open_sqlite(url: &str, migrator: &Migrator) -> Result<SqlitePool, OpenError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| OpenError::UnsupportedUrl(url.to_string()))?;
    let file = path.split('?').next().unwrap_or(path);
    if let Some(dir) = std::path::Path::new(file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// Begins a write transaction that takes SQLite's write lock at once, so two writers
/// queue on `busy_timeout` instead of failing when a read would upgrade to a write.
pub async fn begin_write(pool: &SqlitePool) -> Result<SqliteTransaction<'static>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The default URL of a service's database: a file in `./data`.
pub fn default_url(service: &str) -> String {
    format!("sqlite://data/{service}.db")
}
