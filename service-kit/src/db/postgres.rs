//! Opening a PostgreSQL database, migrations applied; and creating a fresh, empty one on a
//! server (for tests and test harnesses).

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};

use super::OpenError;

/// Connects to the PostgreSQL database at `url` and applies `migrator`. Commits are
/// durable as long as the server keeps `synchronous_commit=on` (its default).
pub async fn open_postgres(url: &str, migrator: &Migrator) -> Result<PgPool, OpenError> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// Creates a new, empty database on the PostgreSQL server that `server_url` names (a URL
/// of any database there whose user may `CREATE DATABASE`) and returns the new
/// database's URL: the same server, user and options, another database name.
///
/// For tests and the harnesses that start services, so that every test or run gets a
/// database of its own. The name is random (`saga_test_` and 32 hex digits); nothing
/// drops the database, it goes away with the throwaway server.
pub async fn fresh_postgres_database(server_url: &str) -> Result<String, sqlx::Error> {
    let name = format!("saga_test_{:032x}", rand::random::<u128>());
    let mut admin = PgConnection::connect(server_url).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(with_database(server_url, &name))
}

/// `url` with its database name (the path) replaced by `name`, options kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, options) = match url.split_once('?') {
        Some((base, options)) => (base, Some(options)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |at| at + 3);
    let root = base[authority..]
        .find('/')
        .map_or(base, |slash| &base[..authority + slash]);
    match options {
        Some(options) => format!("{root}/{name}?{options}"),
        None => format!("{root}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_url_keeps_the_server_user_and_options() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5433/postgres",
                "postgres://postgres@127.0.0.1:5433/db",
            ),
            (
                "postgres://u:p@h/postgres?sslmode=disable",
                "postgres://u:p@h/db?sslmode=disable",
            ),
            ("postgresql://u@h:1", "postgresql://u@h:1/db"),
            (
                "postgres://u@h:1/?application_name=x",
                "postgres://u@h:1/db?application_name=x",
            ),
        ];
        for (server, expected) in cases {
            assert_eq!(with_database(server, "db"), expected, "{server}");
        }
    }
}
