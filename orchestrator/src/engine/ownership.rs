//! Sharing sagas between orchestrator replicas through the database: renew this
//! replica's leases, take over sagas whose owner stopped renewing.

use std::sync::Arc;
use std::time::Duration;

use super::Inner;
use crate::store::{Claim, Lease};

/// Renews every `lease / 3` and claims expired sagas, until shutdown.
pub(super) async fn run(inner: Arc<Inner>) {
    let period = Duration::from_millis(u64::try_from(inner.lease_ms / 3).unwrap_or(1).max(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !inner.shutdown.is_cancelled() {
        tokio::select! {
            _ = ticks.tick() => {}
            () = inner.shutdown.cancelled() => break,
        }
        let until_ms = inner.clock.now_ms() + inner.lease_ms;
        let lease = Lease {
            owner: &inner.replica_id,
            until_ms,
        };
        if let Err(error) = inner.store.renew(lease).await {
            tracing::warn!(%error, "cannot renew leases; other replicas may take sagas over");
        }
        if let Err(error) = inner.claim_and_resume(Claim::Expired).await {
            tracing::warn!(%error, "cannot claim expired sagas");
        }
    }
}
