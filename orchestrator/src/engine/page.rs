//! Accepting the sagas of one page of a feed (the sync sweep's) together with the feed's
//! new position, in one transaction of the saga log.

use super::{Engine, EngineError, Fresh, SagaStart};
use crate::store::{FeedLease, Inserted, NewSaga};

impl Engine {
    /// Starts the sagas of `starts` (finding those whose keys are taken) and moves the
    /// feed to `position` in the same transaction; answers their ids. Overloaded (and
    /// nothing is written) when this replica has no room to drive them all. Its caller
    /// awaits it to the end: the write and the drivers' start are not cut in two.
    pub async fn accept_page(
        &self,
        starts: Vec<SagaStart>,
        feed: FeedLease<'_>,
        position: &str,
    ) -> Result<Vec<String>, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let wanted = u32::try_from(starts.len()).map_err(|_| EngineError::Overloaded)?;
        let Ok(mut slots) = inner.slots.clone().try_acquire_many_owned(wanted) else {
            return Err(EngineError::Overloaded);
        };
        let fresh: Vec<Fresh> = starts.iter().map(|s| Fresh::new(inner, s)).collect();
        let rows: Vec<NewSaga> = fresh
            .iter()
            .zip(&starts)
            .map(|(f, s)| f.row(inner, s))
            .collect();
        let inserted = inner.store.insert_page(&rows, feed, position).await?;
        drop(rows);
        let mut ids = Vec::with_capacity(starts.len());
        for ((fresh, start), inserted) in fresh.into_iter().zip(starts).zip(inserted) {
            match inserted {
                Inserted::New => {
                    ids.push(fresh.saga_id.clone());
                    if let Some(slot) = slots.split(1) {
                        inner.drive_fresh(fresh, start, slot, None);
                    }
                }
                // The page is committed: a key held otherwise is reported, not failed on.
                Inserted::Existing(existing) => match inner.existing(*existing, &start).await {
                    Ok(saga_id) => ids.push(saga_id),
                    Err(error) => tracing::warn!(%error, "a page's saga was not started"),
                },
            }
        }
        Ok(ids)
    }
}
