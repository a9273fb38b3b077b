//! The saga log in SQL, one implementation for both backends (SQLite and PostgreSQL):
//! writes go through the group committer, reads and lease work run here.

use async_trait::async_trait;
use service_kit::db::{Db, Migrations, Tx};
use service_kit::on_backend;

use super::batch::GroupCommitter;
use super::statements::{saga_from_row, select_saga_by_key, select_saga_with_log};
use super::{
    Claim, FeedLease, Incarnation, Inserted, NewSaga, ReplicaRecord, SagaFilter, SagaRecord,
    SagaStore, SagaWrite, StoreError,
};
use super::{claims, replicas};
use saga_definitions::machine::SagaStatus;

/// The saga log in a SQLite file or a PostgreSQL database (which several orchestrators
/// may share). Writes of concurrent sagas are group-committed.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
    writer: GroupCommitter,
}

impl SqlStore {
    /// Wraps a database that has the orchestrator's [`migrations`] applied; up to
    /// `max_batch` writes share one commit. Must be called inside a tokio runtime.
    pub fn new(db: Db, max_batch: usize) -> Self {
        let writer = GroupCommitter::start(db.clone(), max_batch);
        Self { db, writer }
    }

    pub(super) fn db(&self) -> &Db {
        &self.db
    }

    /// The database, for health to ask whether it answers.
    pub fn database(&self) -> &Db {
        &self.db
    }

    /// The sagas `sql` selects: `saga_filter!()`'s `$1`…`$9`, then changed at or after
    /// `$10` (none: any time) and at most `$11` of them.
    async fn sagas_where(
        &self,
        sql: BySql,
        filter: &SagaFilter,
        before: Option<i64>,
        since_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let status = filter.status.map(SagaStatus::as_str);
        let key = filter.key_pattern();
        let sql = sql.of(&tx);
        let sagas = on_backend!(&mut tx, conn => {
            let rows = bind_filter!(sqlx::query(sql), status, before, filter, key)
                .bind(since_ms)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?;
            rows.iter().map(saga_from_row).collect::<Result<Vec<_>, _>>()
        })?;
        tx.commit().await?;
        Ok(sagas)
    }
}

/// The orchestrator's migrations for each backend.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("../migrations/sqlite/orchestrator"),
        postgres: sqlx::migrate!("../migrations/postgres/orchestrator"),
    }
}

#[async_trait]
impl SagaStore for SqlStore {
    async fn insert(&self, new: &NewSaga<'_>) -> Result<Inserted, StoreError> {
        self.writer.insert(new).await
    }

    async fn insert_page(
        &self,
        news: &[NewSaga<'_>],
        feed: FeedLease<'_>,
        position: &str,
    ) -> Result<Vec<Inserted>, StoreError> {
        super::batch::insert_page(&self.db, news, feed, position).await
    }

    async fn commit(&self, write: &SagaWrite<'_>) -> Result<(), StoreError> {
        self.writer.commit(write).await
    }

    async fn get(&self, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        select_saga_with_log(&self.db, saga_id).await
    }

    async fn get_by_key(&self, key: &str) -> Result<Option<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let saga = select_saga_by_key(&mut tx, key).await?;
        tx.commit().await?;
        Ok(saga)
    }

    async fn list(
        &self,
        filter: &SagaFilter,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        const NEWEST_FIRST: BySql = by_backend!(
            select_sagas!("WHERE "),
            " AND ($10 IS NULL OR updated_at_ms >= $10) ORDER BY seq DESC LIMIT $11"
        );
        self.sagas_where(NEWEST_FIRST, filter, before, None, limit)
            .await
    }

    async fn changed_since(
        &self,
        filter: &SagaFilter,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        const IN_CHANGE_ORDER: BySql = by_backend!(
            select_sagas!("WHERE "),
            " AND ($10 IS NULL OR updated_at_ms >= $10) ORDER BY updated_at_ms, seq LIMIT $11"
        );
        self.sagas_where(IN_CHANGE_ORDER, filter, None, Some(since_ms), limit)
            .await
    }

    async fn count(&self, filter: &SagaFilter) -> Result<Vec<(SagaStatus, u64)>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        const BY_STATUS: BySql = by_backend!(
            "SELECT status, COUNT(*) FROM sagas WHERE ",
            " GROUP BY status"
        );
        let key = filter.key_pattern();
        let sql = BY_STATUS.of(&tx);
        let rows: Vec<(String, i64)> = on_backend!(&mut tx, conn => {
            let query = sqlx::query_as(sql);
            // Every status, every row: otherwise a listing's conditions.
            bind_filter!(query, Option::<&str>::None, Option::<i64>::None, filter, key)
            .fetch_all(conn)
            .await
        })?;
        tx.commit().await?;
        rows.into_iter()
            .map(|(status, n)| {
                let status = SagaStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status:?}")))?;
                Ok((status, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn claim(
        &self,
        which: Claim<'_>,
        claimer: Incarnation<'_>,
        lease_ms: i64,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let claimed = claims::claim(&mut tx, which, (claimer, lease_ms), now_ms, limit).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn register(&self, replica_id: &str) -> Result<i64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let incarnation = replicas::register(&mut tx, replica_id).await?;
        tx.commit().await?;
        Ok(incarnation)
    }

    async fn renew(
        &self,
        incarnation: Incarnation<'_>,
        lease_ms: i64,
        saga_ids: &[&str],
    ) -> Result<Option<u64>, StoreError> {
        let ids =
            serde_json::to_string(saga_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.db.begin_write().await?;
        if !replicas::heartbeat(&mut tx, incarnation.replica_id, incarnation.number).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        if saga_ids.is_empty() {
            tx.commit().await?;
            return Ok(Some(0));
        }
        let sql = match tx {
            Tx::Sqlite(_) => RENEW_SQLITE,
            Tx::Postgres(_) => RENEW_POSTGRES,
        };
        let renewed = on_backend!(&mut tx, conn => sqlx::query(sql)
            .bind(lease_ms)
            .bind(incarnation.replica_id)
            .bind(&ids)
            .execute(conn)
            .await?
            .rows_affected());
        tx.commit().await?;
        Ok(Some(renewed))
    }

    async fn replicas(&self, fresh_ms: i64) -> Result<Vec<ReplicaRecord>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let live = replicas::live(&mut tx, fresh_ms).await?;
        tx.commit().await?;
        Ok(live)
    }
}

/// A statement in each backend's SQL.
#[derive(Debug, Clone, Copy)]
struct BySql {
    sqlite: &'static str,
    postgres: &'static str,
}

impl BySql {
    fn of(self, tx: &Tx) -> &'static str {
        match tx {
            Tx::Sqlite(_) => self.sqlite,
            Tx::Postgres(_) => self.postgres,
        }
    }
}

/// `$head`, a [`SagaFilter`]'s conditions (`saga_filter!`), then `$tail`, in each
/// backend's SQL.
macro_rules! by_backend {
    ($head:expr, $tail:literal) => {
        BySql {
            sqlite: concat!($head, saga_filter!(sqlite), $tail),
            postgres: concat!($head, saga_filter!(postgres), $tail),
        }
    };
}
use by_backend;

/// Renews, for `$1` ms from the database's time, the leases of the sagas `$2` holds
/// among those `$3` lists (a JSON array, taken apart by each backend's own function).
macro_rules! renew_sagas {
    ($backend:ident, $ids:literal) => {
        concat!(
            "UPDATE sagas SET lease_until_ms = ",
            db_now_ms!($backend),
            " + $1 WHERE owner = $2 AND status IN ('RUNNING', 'COMPENSATING') AND saga_id IN (",
            $ids,
            ")"
        )
    };
}

const RENEW_SQLITE: &str = renew_sagas!(sqlite, "SELECT value FROM json_each($3)");
const RENEW_POSTGRES: &str = renew_sagas!(postgres, "SELECT json_array_elements_text($3::json)");
