//! The PostgreSQL side of a started stack: a fresh database per service on the
//! `--postgres-url` server (dropped at the end), and what the server reports about them
//! (database size, WAL written, the postmaster whose processes spend CPU for them).

use std::str::FromStr;

use anyhow::{Context, Result, bail};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

/// The three services' databases on one server.
#[derive(Debug, Clone)]
pub struct Databases {
    server_url: String,
    pub orchestrator: String,
    pub orders: String,
    pub invoices: String,
}

impl Databases {
    /// Creates three fresh, empty databases on the server `server_url` names.
    pub async fn create(server_url: &str) -> Result<Self> {
        let fresh = || async {
            service_kit::db::fresh_postgres_database(server_url)
                .await
                .with_context(|| format!("cannot create a database on {}", redacted(server_url)))
        };
        Ok(Self {
            server_url: server_url.to_string(),
            orchestrator: fresh().await?,
            orders: fresh().await?,
            invoices: fresh().await?,
        })
    }

    /// Drops the three databases (closing whatever is still connected to them).
    pub async fn drop_all(&self) -> Result<()> {
        let mut admin = connect(&self.server_url).await?;
        for url in [&self.orchestrator, &self.orders, &self.invoices] {
            let name = database_name(url)?;
            let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .with_context(|| format!("cannot drop the database {name}"))?;
        }
        admin.close().await.context("cannot close the connection")?;
        Ok(())
    }
}

/// The size of the database `url` names, in bytes (none when the server cannot say).
pub async fn database_size(url: &str) -> Option<u64> {
    let mut connection = connect(url).await.ok()?;
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut connection)
        .await
        .ok()?;
    let _ = connection.close().await;
    u64::try_from(size).ok()
}

/// The server's WAL position in bytes: the difference of two is the WAL written between
/// them, by every database of the server.
pub async fn wal_position(url: &str) -> Option<u64> {
    let mut connection = connect(url).await.ok()?;
    let position: i64 =
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
            .fetch_one(&mut connection)
            .await
            .ok()?;
    let _ = connection.close().await;
    u64::try_from(position).ok()
}

/// The postmaster's process id, when the server runs on this machine where /proc shows
/// it: the parent of the backend that serves a connection.
pub async fn postmaster_pid(url: &str) -> Option<u32> {
    let mut connection = connect(url).await.ok()?;
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .ok()?;
    let parent = crate::cpu::parent_of(u32::try_from(backend).ok()?);
    let _ = connection.close().await;
    parent
}

async fn connect(url: &str) -> Result<PgConnection> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("bad PostgreSQL url {}", redacted(url)))?;
    PgConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot connect to {}", redacted(url)))
}

/// The database name in a URL (its path), checked to be a plain identifier since it is
/// spliced into a statement.
fn database_name(url: &str) -> Result<&str> {
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    let name = after_scheme
        .split_once('/')
        .map(|(_, name)| name)
        .unwrap_or_default();
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if name.is_empty() || !name.chars().all(plain) {
        bail!("unexpected database name in {}", redacted(url));
    }
    Ok(name)
}

/// A URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_the_urls_path() {
        let url = "postgres://u:p@127.0.0.1:5432/saga_test_00ff?sslmode=disable";
        assert_eq!(database_name(url).ok(), Some("saga_test_00ff"));
        assert!(database_name("postgres://u@h:1/x;drop").is_err());
        assert!(database_name("postgres://u@h:1").is_err());
    }

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(
            redacted("postgres://u:secret@h:1/db"),
            "postgres://u@h:1/db"
        );
        assert_eq!(redacted("postgres://h:1/db"), "postgres://h:1/db");
    }
}
