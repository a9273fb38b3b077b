//! Test databases: a fresh one of each available backend, with the orders schema (which
//! holds the barrier table).

use super::{Db, Migrations, fresh_postgres_database};

/// Names the PostgreSQL server of the tests, e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
const POSTGRES_ENV: &str = "SAGA_TEST_POSTGRES_URL";

/// A SQLite file always (the folder keeps it alive), and a new PostgreSQL database when
/// `SAGA_TEST_POSTGRES_URL` names a server.
pub(crate) async fn databases() -> (tempfile::TempDir, Vec<Db>) {
    let migrations = Migrations {
        sqlite: sqlx::migrate!("../migrations/sqlite/orders"),
        postgres: sqlx::migrate!("../migrations/postgres/orders"),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("b.db").display());
    let mut dbs = vec![Db::open(&url, &migrations).await.expect("open sqlite")];
    if let Ok(server) = std::env::var(POSTGRES_ENV) {
        let url = fresh_postgres_database(&server)
            .await
            .expect("create a postgres database");
        dbs.push(Db::open(&url, &migrations).await.expect("open postgres"));
    }
    (dir, dbs)
}
