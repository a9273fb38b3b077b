//! Opening a SQLite database: WAL, durable commits, migrations applied.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::SqliteTx;

use super::OpenError;

/// A SQLite database: one connection for writes, a pool for reads.
///
/// SQLite takes one writer at a time, so a second write connection only adds waiting
/// (on `busy_timeout`, in sleeps of a millisecond and more) where writers could queue
/// for the one connection. And a connection's page cache is thrown away whenever
/// another connection committed since its last transaction: writes spread over a pool
/// read the pages they change back each time (a tenth of the orchestrator's writer
/// thread at concurrency 64); the one write connection keeps them.
#[derive(Debug, Clone)]
pub struct SqlitePools {
    pub writes: SqlitePool,
    pub reads: SqlitePool,
}

/// Read connections at most.
const READ_CONNECTIONS: u32 = 8;

/// How long a writer waits for the write connection before it gives up, as long as
/// SQLite waits for its write lock (`busy_timeout`).
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the SQLite database at `url` and applies `migrator`.
///
/// Commits are durable by default (`synchronous=FULL` in WAL mode): a call that was
/// answered survives a crash of the process or the machine. The URL may relax that with
/// `?synchronous=normal` (no fsync per commit: a process crash loses nothing, a power
/// loss may lose the last commits), e.g. to measure what durability costs.
pub async fn open_sqlite(url: &str, migrator: &Migrator) -> Result<SqlitePools, OpenError> {
    let (url, synchronous) = split_synchronous(url)?;
    let url = url.as_str();
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
        .synchronous(synchronous)
        .busy_timeout(WRITE_WAIT)
        .foreign_keys(true);
    // No ping before handing a connection out: it cannot have gone away (the database
    // is a file in this process), and the ping is a round trip to the connection's
    // thread on every acquire.
    let writes = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(WRITE_WAIT)
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await?;
    migrator.run(&writes).await?;
    let reads = SqlitePoolOptions::new()
        .max_connections(READ_CONNECTIONS)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok(SqlitePools { writes, reads })
}

/// Takes our own `synchronous=full|normal` parameter out of a SQLite URL.
fn split_synchronous(url: &str) -> Result<(String, SqliteSynchronous), OpenError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), SqliteSynchronous::Full));
    };
    let mut synchronous = SqliteSynchronous::Full;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("synchronous", "full")) => synchronous = SqliteSynchronous::Full,
            Some(("synchronous", "normal")) => synchronous = SqliteSynchronous::Normal,
            Some(("synchronous", _)) => return Err(OpenError::UnsupportedUrl(url.to_string())),
            _ => rest.push(pair),
        }
    }
    let url = match rest.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", rest.join("&")),
    };
    Ok((url, synchronous))
}

/// Begins a write transaction on the write connection. It takes SQLite's write lock at
/// once, so that a writer outside this process queues on `busy_timeout` instead of
/// failing when a read would upgrade to a write.
pub async fn begin_write(pools: &SqlitePools) -> Result<SqliteTx, sqlx::Error> {
    SqliteTx::begin(&pools.writes, "BEGIN IMMEDIATE").await
}

/// The default URL of a service's database: a file in `./data`.
pub fn default_url(service: &str) -> String {
    format!("sqlite://data/{service}.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synchronous_parameter_is_ours_and_defaults_to_full() {
        let split = |url| split_synchronous(url).map(|(u, s)| (u, format!("{s:?}")));
        assert_eq!(
            split("sqlite://a.db").ok(),
            Some(("sqlite://a.db".into(), "Full".into()))
        );
        assert_eq!(
            split("sqlite://a.db?synchronous=normal&mode=rwc").ok(),
            Some(("sqlite://a.db?mode=rwc".into(), "Normal".into()))
        );
        assert!(split("sqlite://a.db?synchronous=off").is_err());
    }
}
