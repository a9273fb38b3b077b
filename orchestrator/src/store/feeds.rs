//! Feeds: how far each feed of outside work has got, and which process follows it. A
//! process holds a feed under a lease and moves it on only while it still holds it, so
//! a replica that lost the feed (paused past its lease, superseded) cannot move it back.

use async_trait::async_trait;
use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use super::StoreError;
use super::sql::SqlStore;

/// Who holds a feed and for how long, on the caller's clock.
#[derive(Debug, Clone, Copy)]
pub struct FeedLease<'a> {
    pub feed: &'a str,
    /// Unique to one process, so that a restarted replica never acts as its predecessor.
    pub holder: &'a str,
    pub now_ms: i64,
    pub lease_ms: i64,
}

/// The feeds table. Every method is one transaction.
#[async_trait]
pub trait FeedStore: Send + Sync + 'static {
    /// Takes the feed, or renews it, when it is free, its lease has passed, or the
    /// holder holds it already; answers its position then, `None` when another holds it.
    async fn hold_feed(&self, lease: FeedLease<'_>) -> Result<Option<String>, StoreError>;
    /// Moves the feed to `position` and renews the lease if the holder still holds it;
    /// false when it has lost the feed (and nothing was written).
    async fn advance_feed(&self, lease: FeedLease<'_>, position: &str) -> Result<bool, StoreError>;
}

#[async_trait]
impl FeedStore for SqlStore {
    async fn hold_feed(&self, lease: FeedLease<'_>) -> Result<Option<String>, StoreError> {
        let mut tx = self.db().begin_write().await?;
        let held = hold(&mut tx, lease).await?;
        tx.commit().await?;
        Ok(held)
    }

    async fn advance_feed(&self, lease: FeedLease<'_>, position: &str) -> Result<bool, StoreError> {
        let mut tx = self.db().begin_write().await?;
        let moved = advance(&mut tx, lease, position).await?;
        tx.commit().await?;
        Ok(moved)
    }
}

/// Moves the feed and renews its lease inside the caller's transaction, if the holder
/// still holds it.
pub(super) async fn advance(
    tx: &mut Tx,
    lease: FeedLease<'_>,
    position: &str,
) -> Result<bool, StoreError> {
    let moved = on_backend!(tx, conn => sqlx::query(
        "UPDATE feeds SET position = $1, lease_until_ms = $2, updated_at_ms = $3
         WHERE name = $4 AND holder = $5",
    )
    .bind(position)
    .bind(lease.now_ms.saturating_add(lease.lease_ms))
    .bind(lease.now_ms)
    .bind(lease.feed)
    .bind(lease.holder)
    .execute(conn)
    .await?
    .rows_affected());
    Ok(moved == 1)
}

async fn hold(tx: &mut Tx, lease: FeedLease<'_>) -> Result<Option<String>, StoreError> {
    on_backend!(tx, conn => {
        sqlx::query("INSERT INTO feeds (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(lease.feed)
            .execute(&mut *conn)
            .await?;
        let taken = sqlx::query(
            "UPDATE feeds SET holder = $1, lease_until_ms = $2
             WHERE name = $3 AND (holder IS NULL OR holder = $1 OR lease_until_ms < $4)",
        )
        .bind(lease.holder)
        .bind(lease.now_ms.saturating_add(lease.lease_ms))
        .bind(lease.feed)
        .bind(lease.now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT position FROM feeds WHERE name = $1")
            .bind(lease.feed)
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some(row.text("position")?))
    })
}

#[cfg(test)]
#[path = "feeds/tests.rs"]
mod tests;
