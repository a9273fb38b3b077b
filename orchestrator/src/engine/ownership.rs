//! Sharing sagas between orchestrator replicas through the database: renew the leases
//! of the sagas this process drives, and no others, and claim every saga whose lease
//! expired (nobody drives it), up to the room this process has.

use std::sync::Arc;
use std::time::Duration;

use super::driver::{self, LiveSaga};
use super::{EngineError, Inner};
use crate::saga::Event;
use crate::store::{Claim, Lease, SagaRecord};

/// Takes this replica's own unfinished sagas back, retrying until it succeeds or the
/// engine shuts down.
pub(super) async fn resume_own(inner: &Arc<Inner>) {
    let mut attempt = 0;
    while let Err(error) = inner.claim_and_resume(Claim::AtStart).await {
        attempt += 1;
        tracing::warn!(%error, attempt, "cannot resume unfinished sagas yet; retrying");
        let pause = inner.backoff.delay(attempt, &inner.entropy);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = inner.shutdown.cancelled() => return,
        }
    }
}

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
        let lease = Lease {
            owner: &inner.replica_id,
            ms: inner.lease_ms,
        };
        let driven = inner.driven();
        let driven: Vec<&str> = driven.iter().map(String::as_str).collect();
        if let Err(error) = inner.store.renew(lease, &driven).await {
            tracing::warn!(%error, "cannot renew leases; other replicas may take sagas over");
        }
        if let Err(error) = inner.claim_and_resume(Claim::Expired).await {
            tracing::warn!(%error, "cannot claim expired sagas");
        }
    }
}

impl Inner {
    /// Claims sagas in batches, no more than this process has room to drive (so that a
    /// survivor does not hoard a dead peer's backlog while others idle), and starts a
    /// driver for each.
    pub(super) async fn claim_and_resume(
        self: &Arc<Self>,
        which: Claim<'_>,
    ) -> Result<usize, EngineError> {
        const BATCH: usize = 500;
        let mut total = 0;
        loop {
            let limit = self.room().min(BATCH);
            if limit == 0 {
                break;
            }
            let now_ms = self.clock.now_ms();
            let lease = Lease {
                owner: &self.replica_id,
                ms: self.lease_ms,
            };
            let claimed = self
                .store
                .claim(
                    which,
                    lease,
                    now_ms,
                    u32::try_from(limit).unwrap_or(u32::MAX),
                )
                .await?;
            let batch = claimed.len();
            total += batch;
            for record in claimed {
                self.resume(record);
            }
            if batch < limit {
                break;
            }
        }
        if total > 0 {
            tracing::info!(count = total, "resuming unfinished sagas");
        }
        Ok(total)
    }

    /// After a fenced write: if the log still names this replica as the saga's owner
    /// (our own earlier commit went through despite an error, or a stopping process with
    /// our name was still finishing its last calls), drive it again from what the log
    /// holds; otherwise another replica has it. Waits a short, jittered while first, so
    /// that two live processes wrongly sharing a name fence each other slowly.
    pub(super) async fn take_back_if_still_mine(self: &Arc<Self>, saga_id: &str) {
        let pause = self.backoff.delay(2, &self.entropy);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = self.shutdown.cancelled() => return,
        }
        match self.store.get(saga_id).await {
            Ok(Some(record))
                if record.owner == self.replica_id && !record.state.status().is_terminal() =>
            {
                tracing::info!(saga.id = saga_id, "saga still ours; resuming from the log");
                self.resume(record);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(saga.id = saga_id, %error, "cannot re-read fenced saga; it is claimed again once its lease expires")
            }
        }
    }

    /// Drives a claimed saga from where its log left it.
    pub(super) fn resume(self: &Arc<Self>, record: SagaRecord) {
        let mut saga = LiveSaga::from_record(record);
        if !self.remember(&saga) {
            tracing::debug!(saga.id = %saga.id, "already driven by this process");
            return;
        }
        let inner = self.clone();
        self.tasks.spawn(async move {
            let Ok(slot) = inner.slots.clone().acquire_owned().await else {
                return;
            };
            match driver::apply(&inner, &mut saga, &Event::Resumed).await {
                Ok(command) => driver::drive(inner, saga, command, slot).await,
                Err(why) => {
                    inner.forget(&saga);
                    drop(slot);
                    if why == driver::Stopped::Fenced {
                        inner.take_back_if_still_mine(&saga.id).await;
                    }
                }
            }
        });
    }
}
