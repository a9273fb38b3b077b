//! Storage stalls: the runner holds an exclusive lock on a service's SQLite database for a
//! while, as another writer, a backup or a very slow disk would, so that the service's
//! own writes wait or fail as "database locked".

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

/// How long taking the lock may wait for the service's own transactions to end.
const TAKE_TIMEOUT: Duration = Duration::from_millis(500);

/// An exclusive lock on one database, held until [`StorageLock::release`] or drop.
#[derive(Debug)]
pub struct StorageLock {
    path: PathBuf,
    connection: Option<SqliteConnection>,
}

impl StorageLock {
    /// Takes the lock (`BEGIN EXCLUSIVE`); `None` when the database stayed busy (the
    /// stall is then skipped). The journal mode is left as the service set it.
    pub async fn take(path: &Path) -> Result<Option<Self>> {
        let mut connection = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(TAKE_TIMEOUT)
            .connect()
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        if sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut connection)
            .await
            .is_err()
        {
            let _ = connection.close().await;
            return Ok(None);
        }
        Ok(Some(Self {
            path: path.to_path_buf(),
            connection: Some(connection),
        }))
    }

    /// Ends the stall: rolls the empty transaction back and closes the connection.
    pub async fn release(mut self) -> Result<()> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        sqlx::query("ROLLBACK")
            .execute(&mut connection)
            .await
            .with_context(|| format!("cannot unlock {}", self.path.display()))?;
        connection
            .close()
            .await
            .with_context(|| format!("cannot close {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let lock = StorageLock::take(&path).await?.context("lock taken")?;
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
}
