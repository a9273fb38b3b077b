//! A feed as the trigger follows it: held under a lease in the saga log, its position
//! moved on (and the lease renewed) as work is durably accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::store::{FeedLease, FeedStore, StoreError};

/// One durable feed, which one process at a time holds.
#[derive(Clone)]
pub struct Feed {
    name: &'static str,
    store: Arc<dyn FeedStore>,
    holder: String,
    lease: Duration,
    /// Whether the last look found this process holding the feed (to log the changes).
    holding: Arc<AtomicBool>,
}

impl Feed {
    pub fn new(
        name: &'static str,
        store: Arc<dyn FeedStore>,
        holder: String,
        lease: Duration,
    ) -> Self {
        Self {
            name,
            store,
            holder,
            lease,
            holding: Arc::default(),
        }
    }

    /// Takes or renews the feed; its position when this process holds it, `None` when
    /// another does.
    pub async fn hold(&self) -> Result<Option<String>, StoreError> {
        let position = self.store.hold_feed(self.lease()).await?;
        let held = self.holding.swap(position.is_some(), Ordering::Relaxed);
        match (&position, held) {
            (Some(position), false) => {
                tracing::info!(feed = self.name, %position, "took the feed")
            }
            (None, true) => tracing::info!(feed = self.name, "lost the feed to another"),
            _ => {}
        }
        Ok(position)
    }

    /// Moves the feed to `position` and renews the lease; false when this process has
    /// lost the feed, and must stop following it.
    pub async fn advance(&self, position: &str) -> Result<bool, StoreError> {
        self.store.advance_feed(self.lease(), position).await
    }

    /// How often a holder renews: well inside its lease.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// The lease as of now, for a write that moves the feed itself.
    pub fn lease(&self) -> FeedLease<'_> {
        FeedLease {
            feed: self.name,
            holder: &self.holder,
            now_ms: service_kit::db::now_ms(),
            lease_ms: i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX),
        }
    }
}
