//! Opening a PostgreSQL database, migrations applied.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

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
