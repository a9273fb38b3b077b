//! Fresh stores for the store's own tests: one per available backend (a SQLite file in a
//! folder the returned guard keeps alive, and a new PostgreSQL database when
//! `SAGA_TEST_POSTGRES_URL` names a server).

use std::time::Duration;

use service_kit::testing::fresh_urls;

use super::sql::{SqlStore, migrations};

pub async fn sql_stores(name: &str) -> (tempfile::TempDir, Vec<SqlStore>) {
    let (dir, urls) = fresh_urls(name).await;
    let mut stores = Vec::new();
    for url in urls {
        let db = service_kit::db::Db::open_patiently(&url, &migrations(), Duration::ZERO)
            .await
            .expect("open the test store");
        stores.push(SqlStore::new(db, 8));
    }
    (dir, stores)
}
