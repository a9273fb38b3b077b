//! Sharing sagas between orchestrator replicas through the database: register this
//! process's incarnation of its replica id, renew the leases of the sagas it drives and
//! no others (with a heartbeat that a newer incarnation of the id refuses), and claim
//! every saga whose lease expired (nobody drives it), up to the room this process has.

use std::sync::Arc;
use std::time::Duration;

use saga_definitions::machine::{Command, Event};
use tokio::sync::watch;

use super::driver::{self, LiveSaga, Progress};
use super::{EngineError, Inner};
use crate::definitions::{DefinitionError, Runnable};
use crate::store::{Claim, Incarnation, SagaRecord};

/// Registers this process's incarnation and takes its replica's unfinished sagas back,
/// retrying each until it succeeds or the engine shuts down.
pub(super) async fn resume_own(inner: &Arc<Inner>) {
    if register(inner).await.is_none() {
        return;
    }
    let mut attempt = 0;
    while let Err(error) = inner.claim_and_resume(Claim::AtStart).await {
        attempt += 1;
        tracing::warn!(%error, attempt, "cannot resume unfinished sagas yet; retrying");
        if !inner.pause(attempt).await {
            return;
        }
    }
}

/// This process's incarnation of the replica id, registered by the first caller (the
/// others wait for it); `None` when shutdown came first.
async fn register(inner: &Inner) -> Option<i64> {
    let registered = inner.incarnation.get_or_try_init(|| async {
        let mut attempt = 0;
        loop {
            match inner.store.register(&inner.replica_id).await {
                Ok(number) => {
                    tracing::info!(replica.id = %inner.replica_id, incarnation = number, "replica registered");
                    return Ok(number);
                }
                Err(error) => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, "cannot register the replica yet; retrying");
                    if !inner.pause(attempt).await {
                        return Err(());
                    }
                }
            }
        }
    });
    registered.await.ok().copied()
}

/// Renews every `lease / 3` and claims expired sagas, until shutdown or until a newer
/// incarnation of the replica id supersedes this process.
pub(super) async fn run(inner: Arc<Inner>) {
    let Some(number) = register(&inner).await else {
        return;
    };
    let period = Duration::from_millis(u64::try_from(inner.lease_ms / 3).unwrap_or(1).max(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !inner.shutdown.is_cancelled() {
        tokio::select! {
            _ = ticks.tick() => {}
            () = inner.shutdown.cancelled() => break,
        }
        let incarnation = Incarnation {
            replica_id: &inner.replica_id,
            number,
        };
        inner.gauge();
        let driven = inner.driven();
        let driven: Vec<&str> = driven.iter().map(String::as_str).collect();
        match inner
            .store
            .renew(incarnation, inner.lease_ms, &driven)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::error!(
                    replica.id = %inner.replica_id,
                    incarnation = incarnation.number,
                    "a newer process registered this replica id: this one stops driving sagas \
                     (give each process its own --replica-id, or stop the old one)"
                );
                inner.shutdown.cancel();
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot renew leases; other replicas may take sagas over")
            }
        }
        for which in [Claim::OwnExpired, Claim::Expired] {
            if let Err(error) = inner.claim_and_resume(which).await {
                tracing::warn!(%error, "cannot claim expired sagas");
            }
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
            // Only this replica may take its own sagas while it lives: those, whatever the
            // room (their drivers wait for a slot); others' only into the room left.
            let limit = match which {
                Claim::OwnExpired => BATCH,
                _ => self.room().min(BATCH),
            };
            if limit == 0 {
                break;
            }
            let now_ms = self.clock.now_ms();
            // Registered before any claim; 0 (superseded by any registration) only if
            // shutdown came first.
            let claimer = Incarnation {
                replica_id: &self.replica_id,
                number: self.incarnation.get().copied().unwrap_or(0),
            };
            let claimed = self
                .store
                .claim(
                    which,
                    claimer,
                    self.lease_ms,
                    now_ms,
                    u32::try_from(limit).unwrap_or(u32::MAX),
                )
                .await?;
            let batch = claimed.len();
            total += batch;
            let kind = match which {
                Claim::AtStart => "start",
                Claim::OwnExpired => "own",
                Claim::Expired | Claim::ExpiredSaga(_) => "expired",
            };
            metrics::counter!(crate::metrics::CLAIMS, "kind" => kind).increment(batch as u64);
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
        if !self.pause(2).await {
            return;
        }
        match self.store.get(saga_id).await {
            Ok(Some(record))
                if record.owner == self.replica_id && !record.state.status().is_terminal() =>
            {
                tracing::info!(saga_id = saga_id, "saga still ours; resuming from the log");
                self.resume(record);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(saga_id = saga_id, %error, "cannot re-read fenced saga; it is claimed again once its lease expires")
            }
        }
    }

    /// The definition version a saga is pinned to, retrying while the database is
    /// unavailable; `None` on shutdown, or when the version cannot be had (a bug or a hand
    /// edit: the saga is left undriven, and logged).
    async fn pinned_definition(&self, record: &SagaRecord) -> Option<Arc<Runnable>> {
        let (name, version) = (&record.definition, record.definition_version);
        let mut attempt = 0;
        loop {
            match self.definitions.runnable(name, version).await {
                Ok(runnable) => return Some(runnable),
                Err(DefinitionError::Store(crate::store::StoreError::Unavailable(error))) => {
                    attempt += 1;
                    tracing::warn!(saga_id = %record.saga_id, %error, attempt, "cannot read the saga's definition yet; retrying");
                    if !self.pause(attempt).await {
                        return None;
                    }
                }
                Err(error) => {
                    tracing::error!(saga_id = %record.saga_id, definition = %name, version, %error, "cannot drive the saga: its definition version cannot be used");
                    return None;
                }
            }
        }
    }

    /// Sleeps the backoff of `attempt`; `false` when shutdown came first.
    async fn pause(&self, attempt: u32) -> bool {
        let pause = super::backoff::delay(&self.policy.backoff, attempt, &self.entropy);
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = self.shutdown.cancelled() => false,
        }
    }

    /// Drives a claimed saga from where its log left it, on the definition version it
    /// is pinned to.
    pub(super) fn resume(self: &Arc<Self>, record: SagaRecord) {
        self.take_up(record, None);
    }

    /// Drives a saga as it stands in `record`: from `first` when the write that took it
    /// decided the next command, otherwise by re-issuing its current call.
    pub(super) fn take_up(self: &Arc<Self>, record: SagaRecord, first: Option<Command>) {
        let status = watch::channel(Progress::of(record.state.status())).0;
        let Some(driving) = self.remember(&record.saga_id, &status) else {
            tracing::debug!(saga_id = %record.saga_id, "already driven by this process");
            return;
        };
        let inner = self.clone();
        self.tasks.spawn(async move {
            let Some(runnable) = inner.pinned_definition(&record).await else {
                return;
            };
            let mut saga = LiveSaga::from_record(record, runnable, status);
            let Ok(slot) = inner.slots.clone().acquire_owned().await else {
                return;
            };
            let moved = match first {
                Some(command) => Ok(Some(command)),
                None => driver::apply(&inner, &mut saga, &Event::Resumed).await,
            };
            match moved {
                Ok(command) => {
                    let seat = driver::Seat { slot, ticket: None };
                    driver::drive(inner, saga, command, seat, driving).await
                }
                Err(why) => {
                    drop((driving, slot));
                    if why == driver::Stopped::Fenced {
                        inner.take_back_if_still_mine(&saga.id).await;
                    }
                }
            }
        });
    }
}
