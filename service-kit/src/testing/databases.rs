//! Test databases: for each test, a fresh database of every available backend, a SQLite
//! file always and a new PostgreSQL database when `SAGA_TEST_POSTGRES_URL` names a
//! server.

use crate::db::{Db, Migrations, fresh_postgres_database};

/// Names the PostgreSQL server of the tests, e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
pub const POSTGRES_ENV: &str = "SAGA_TEST_POSTGRES_URL";

/// The URLs of a fresh database of each available backend: `sqlite://…/NAME` in a new
/// folder (which the returned guard keeps alive) and, when [`POSTGRES_ENV`] is set, a
/// new PostgreSQL database. Panics when one cannot be made: a test cannot go on.
pub async fn fresh_urls(name: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut urls = vec![format!("sqlite://{}", dir.path().join(name).display())];
    if let Ok(server) = std::env::var(POSTGRES_ENV) {
        let url = fresh_postgres_database(&server)
            .await
            .expect("create a postgres database");
        urls.push(url);
    }
    (dir, urls)
}

/// [`fresh_urls`], opened with `migrations` applied.
pub async fn databases(migrations: &Migrations) -> (tempfile::TempDir, Vec<Db>) {
    let (dir, urls) = fresh_urls("test.db").await;
    let mut dbs = Vec::with_capacity(urls.len());
    for url in urls {
        dbs.push(
            Db::open(&url, migrations)
                .await
                .expect("open the test database"),
        );
    }
    (dir, dbs)
}

/// The orders schema, which holds the barrier table: service-kit's own tests use it.
#[cfg(test)]
pub(crate) fn orders_migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("../migrations/sqlite/orders"),
        postgres: sqlx::migrate!("../migrations/postgres/orders"),
    }
}
