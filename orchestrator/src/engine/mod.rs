//! The IO shell around the saga state machine: accepts sagas, drives each one through
//! the participants, commits every transition to the saga log before acting on it, and
//! resumes unfinished sagas after a restart.

mod admission;
mod backoff;
mod calls;
mod classify;
mod clock;
mod driver;
mod error;
mod follow;
mod intervene;
mod ownership;
mod page;
mod pool;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use calls::{Call, InvalidUrl, Participants, channel};
pub use clock::{Clock, Entropy, SystemClock};
pub use error::EngineError;
pub use follow::Change;

use saga_definitions::machine::{self, Context, Policy, SagaStatus};
use serde_json::Value;

use crate::definitions::{Definitions, Runnable};
use crate::store::{
    Claim, FIRST_VERSION, Inserted, Lease, NewSaga, ReplicaRecord, SagaFilter, SagaRecord,
    SagaStore,
};
use driver::{LiveSaga, Progress};
use intervene::Asked;

/// The engine's tuning.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    /// Sagas driven at once; beyond it `start` answers `Overloaded`.
    pub max_in_flight: usize,
    /// Sagas making calls at once (see [`admission`]).
    pub max_working: usize,
    /// The longest a new saga may expect to queue for its place before `start` answers
    /// `Overloaded` instead.
    pub max_queue_delay: Duration,
    /// This replica's name in the saga log; a restarted replica with the same name takes
    /// its own unfinished sagas back at once.
    pub replica_id: String,
    /// How long a replica holds a saga without renewing; others take it over after.
    pub lease: Duration,
}

/// Runs sagas. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// A saga to start.
#[derive(Debug, Clone)]
pub struct SagaStart {
    /// The definition version it runs (and stays pinned to).
    pub runnable: Arc<Runnable>,
    /// `None`: the caller gave no key, so every call starts a new saga.
    pub key: Option<String>,
    pub input: Value,
}

impl SagaStart {
    /// The start of a saga of `runnable` with `input`, once the input is checked against
    /// the definition's inputs; the problems otherwise.
    pub fn checked(
        runnable: Arc<Runnable>,
        key: Option<String>,
        input: Value,
    ) -> Result<Self, Vec<saga_definitions::Problem>> {
        let problems = runnable.checked.input.check(&input);
        match problems.is_empty() {
            true => Ok(Self {
                runnable,
                key,
                input,
            }),
            false => Err(problems),
        }
    }
}

struct Inner {
    store: Arc<dyn SagaStore>,
    definitions: Definitions,
    participants: Participants,
    clock: Arc<dyn Clock>,
    entropy: Entropy,
    policy: Policy,
    replica_id: String,
    lease_ms: i64,
    max_in_flight: usize,
    /// This process's incarnation of `replica_id`, once registered.
    incarnation: tokio::sync::OnceCell<i64>,
    /// Every saga driven by this process: its status, for callers waiting on its end,
    /// and its driver's mailbox, for operators' requests.
    live: Mutex<HashMap<String, Handle>>,
    slots: Arc<Semaphore>,
    /// The places of the sagas making calls, and the queue for them.
    admission: admission::Admission,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Engine {
    pub fn new(
        store: Arc<dyn SagaStore>,
        definitions: Definitions,
        participants: Participants,
        clock: Arc<dyn Clock>,
        entropy: Entropy,
        settings: Settings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                definitions,
                participants,
                clock,
                entropy,
                policy: settings.policy,
                lease_ms: i64::try_from(settings.lease.as_millis()).unwrap_or(i64::MAX),
                replica_id: settings.replica_id,
                max_in_flight: settings.max_in_flight,
                incarnation: tokio::sync::OnceCell::new(),
                live: Mutex::new(HashMap::new()),
                slots: Arc::new(Semaphore::new(settings.max_in_flight)),
                admission: admission::Admission::new(
                    settings.max_working,
                    settings.max_queue_delay,
                ),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Starts a saga (or finds the one its key already started) and waits until it ends
    /// or `deadline` passes; returns its state then.
    /// A client's saga is refused `Overloaded` when it would queue longer than
    /// `--max-queue-delay-ms`, or than `patience` (its caller's deadline), for its place.
    pub async fn start(
        &self,
        start: SagaStart,
        deadline: Instant,
        patience: Option<Duration>,
    ) -> Result<SagaRecord, EngineError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let ticket = self.inner.admission.admit(patience);
        let saga_id = self
            .accept_with(start, Some(ticket.ok_or(EngineError::Overloaded)?))
            .await?;
        self.wait_for(&saga_id, deadline).await
    }

    /// Starts the saga (or finds the one its key started) and answers its id once it is
    /// durably accepted, without waiting for it to run; however long it must queue (an
    /// order event is not refused for the queue: it waits its turn).
    pub async fn accept(&self, start: SagaStart) -> Result<String, EngineError> {
        self.accept_with(start, None).await
    }

    /// [`Engine::accept`] for a saga queued for its place since its admission (`ticket`),
    /// if it was admitted.
    async fn accept_with(
        &self,
        start: SagaStart,
        ticket: Option<admission::Queued>,
    ) -> Result<String, EngineError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        // Its own task: a caller that gives up cannot cut the start of a saga in two
        // (committed but never driven).
        let start = start_saga(self.inner.clone(), start, ticket);
        let start = start.instrument(tracing::Span::current());
        let start = tokio::spawn(start);
        start.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// How many more sagas this process has room to drive now.
    pub fn room(&self) -> usize {
        self.inner.room().min(self.inner.slots.available_permits())
    }

    /// A saga with its whole log.
    pub async fn get(&self, saga_id: &str) -> Result<SagaRecord, EngineError> {
        let found = self.inner.store.get(saga_id).await?;
        found.ok_or_else(|| EngineError::NotFound(saga_id.to_string()))
    }

    /// Sagas newest first that `filter` lets through, after the row `before`.
    pub async fn list(
        &self,
        filter: &SagaFilter,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SagaRecord>, EngineError> {
        Ok(self.inner.store.list(filter, limit, before).await?)
    }

    /// Sagas `filter` lets through that changed at or after `since_ms`, in change
    /// order, without their logs.
    pub async fn changed_since(
        &self,
        filter: &SagaFilter,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, EngineError> {
        Ok(self
            .inner
            .store
            .changed_since(filter, since_ms, limit)
            .await?)
    }

    /// How many sagas `filter` (its status aside) lets through, by status.
    pub async fn count(&self, filter: &SagaFilter) -> Result<Vec<(SagaStatus, u64)>, EngineError> {
        Ok(self.inner.store.count(filter).await?)
    }

    /// The replicas heard from within one lease period.
    pub async fn replicas(&self) -> Result<Vec<ReplicaRecord>, EngineError> {
        Ok(self.inner.store.replicas(self.inner.lease_ms).await?)
    }

    /// Takes back this replica's unfinished sagas (after a crash or a restart), retrying
    /// while the log is unavailable; call it before accepting new sagas, which it would
    /// otherwise take too. Each resumed saga re-issues its current call, which the
    /// participants answer idempotently.
    pub async fn resume_own(&self) {
        ownership::resume_own(&self.inner).await;
    }

    /// Keeps this replica's leases fresh and takes over sagas whose owner stopped
    /// renewing, until shutdown.
    pub fn spawn_ownership(&self) {
        let inner = self.inner.clone();
        self.inner.tasks.spawn(ownership::run(inner));
    }

    /// Stops accepting sagas and starting calls; callers waiting on a saga get its
    /// current state. In-flight calls still finish and are committed.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Waits up to `drain` for in-flight calls to be answered and committed, after
    /// [`Engine::begin_shutdown`]. What is cut off stays unfinished in the log for the
    /// next start.
    pub async fn drain(&self, drain: Duration) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        inner.tasks.close();
        if tokio::time::timeout(drain, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("drain timed out; unfinished sagas resume at the next start");
        }
    }

    /// Waits until the saga ends or `deadline` passes, then reads it back from the log.
    /// A saga this replica drives is watched in memory; one another replica drives is
    /// polled in the shared log.
    async fn wait_for(&self, saga_id: &str, deadline: Instant) -> Result<SagaRecord, EngineError> {
        if let Some(mut progress) = self.inner.watch(saga_id) {
            let ended = async {
                let ended = progress.wait_for(|p| p.status.is_terminal()).await?;
                Ok::<_, watch::error::RecvError>(ended.ended.clone())
            };
            let waited = tokio::select! {
                waited = tokio::time::timeout_at(deadline, ended) => waited,
                () = self.inner.shutdown.cancelled() => Ok(Ok(None)),
            };
            match waited {
                // Ended, as this driver wrote it from the start.
                Ok(Ok(Some(record))) => return Ok(Arc::unwrap_or_clone(record)),
                // A closed channel means this driver stopped early (fenced) and another
                // may carry on: then watch the log instead.
                Ok(Err(_)) => {}
                // Ended (taken up from the log), the deadline, or shutdown: as logged.
                Ok(Ok(None)) | Err(_) => return self.get(saga_id).await,
            }
        }
        loop {
            let saga = self.get(saga_id).await?;
            let now = Instant::now();
            if saga.state.status().is_terminal()
                || now >= deadline
                || self.inner.shutdown.is_cancelled()
            {
                return Ok(saga);
            }
            tokio::time::sleep(OTHER_REPLICA_POLL.min(deadline - now)).await;
        }
    }
}

/// Inserts the saga (or finds the one holding the key) and starts its driver; returns
/// the saga's id.
async fn start_saga(
    inner: Arc<Inner>,
    start: SagaStart,
    ticket: Option<admission::Queued>,
) -> Result<String, EngineError> {
    let fresh = Fresh::new(&inner, &start);
    let Ok(slot) = inner.slots.clone().try_acquire_owned() else {
        let existing = inner.store.get_by_key(&fresh.key).await?;
        let existing = existing.ok_or(EngineError::Overloaded)?;
        return inner.existing(existing, &start).await;
    };
    if let Inserted::Existing(existing) = inner.store.insert(&fresh.row(&inner, &start)).await? {
        return inner.existing(*existing, &start).await;
    }
    let saga_id = fresh.saga_id.clone();
    inner.drive_fresh(fresh, start, slot, ticket);
    Ok(saga_id)
}

/// The trace a new saga joins: its caller's, or (a saga the sweep or an event starts,
/// with no caller's trace) one of its own, rooted in a `saga` span.
fn trace_of(saga_id: &str) -> String {
    let caller = service_kit::trace_context::current();
    if !caller.is_empty() || !service_kit::trace_context::enabled() {
        return caller;
    }
    let root = tracing::info_span!(parent: None, "saga", saga_id = %saga_id);
    service_kit::trace_context::of(&root)
}

/// A saga about to be inserted: its new id, its key and its first transition.
struct Fresh {
    saga_id: String,
    key: String,
    now_ms: i64,
    first: machine::Transition,
    /// The caller's trace context, which the saga's steps join.
    trace_context: String,
}

impl Fresh {
    fn new(inner: &Inner, start: &SagaStart) -> Self {
        let now_ms = inner.clock.now_ms();
        let saga_id = inner.entropy.new_id(now_ms);
        let trace_context = trace_of(&saga_id);
        let key = start.key.clone().unwrap_or_else(|| saga_id.clone());
        let first = machine::start(&Context {
            now_ms,
            saga_started_ms: now_ms,
            policy: &inner.policy,
            definition: start.runnable.definition(),
            jitter: inner.entropy.jitter(),
        });
        Self {
            saga_id,
            key,
            now_ms,
            first,
            trace_context,
        }
    }

    /// Its row, as this replica accepts it.
    fn row<'a>(&'a self, inner: &'a Inner, start: &'a SagaStart) -> NewSaga<'a> {
        NewSaga {
            saga_id: &self.saga_id,
            idempotency_key: &self.key,
            definition: start.runnable.name(),
            definition_version: start.runnable.version,
            input: &start.input,
            state: &self.first.state,
            log: &self.first.log,
            now_ms: self.now_ms,
            trace_context: &self.trace_context,
            lease: Lease {
                owner: &inner.replica_id,
                ms: inner.lease_ms,
            },
        }
    }
}

impl Inner {
    /// Starts driving a saga just inserted, in `slot`.
    /// Starts driving a saga just inserted, in `slot`, queued for its first place since
    /// its admission (`ticket`) if it was admitted.
    fn drive_fresh(
        self: &Arc<Self>,
        fresh: Fresh,
        start: SagaStart,
        slot: OwnedSemaphorePermit,
        ticket: Option<admission::Queued>,
    ) {
        let Fresh {
            saga_id,
            key,
            now_ms,
            first,
            trace_context,
        } = fresh;
        tracing::info!(saga_id = %saga_id, idempotency_key = %key, definition = start.runnable.name(), "saga accepted");
        let definition = start.runnable.name().to_string();
        metrics::counter!(crate::metrics::STARTED, "definition" => definition).increment(1);
        let log_len = u32::try_from(first.log.len()).unwrap_or(u32::MAX);
        let log = driver::entries(0, first.log, now_ms, &self.replica_id, FIRST_VERSION);
        let saga = LiveSaga {
            id: saga_id,
            key,
            input: start.input,
            runnable: start.runnable,
            state: first.state,
            version: FIRST_VERSION,
            log_len,
            started_ms: now_ms,
            trace_context,
            updated_ms: now_ms,
            log: Some(log.collect()),
            status: watch::channel(Progress::of(SagaStatus::Running)).0,
        };
        // Another caller with the key may have found the saga and taken it up already.
        if let Some(driving) = self.remember(&saga.id, &saga.status) {
            let seat = driver::Seat { slot, ticket };
            let driver = driver::drive(self.clone(), saga, first.command, seat, driving);
            self.tasks.spawn(driver);
        }
    }
}

/// A saga this process drives, as others reach it.
#[derive(Clone)]
struct Handle {
    status: watch::Receiver<Progress>,
    asked: mpsc::Sender<Asked>,
    /// Its current call is parked (for the gauge of parked sagas).
    parked: Arc<AtomicBool>,
}

/// Operators' requests waiting for a driver, at most.
const MAILBOX: usize = 16;

/// A driver's registration in [`Inner::live`]: dropped however the driver's task ends (a
/// panic included), so that this process never renews the lease of a saga it does not
/// drive. It removes its own entry and no later driver's of the same saga.
pub(super) struct Driving {
    inner: Arc<Inner>,
    saga_id: String,
    status: watch::Receiver<Progress>,
    /// Operators' requests for this saga; those left when the driver stops are dropped
    /// unanswered, and their callers ask again.
    asked: mpsc::Receiver<Asked>,
    parked: Arc<AtomicBool>,
}

impl Driving {
    /// Notes whether the saga, as `state` says, waits with a parked call.
    pub(super) fn mark(&self, state: &machine::SagaState) {
        let parked = state.pending().is_some_and(|(_, _, p)| p.parked);
        self.parked.store(parked, Ordering::Relaxed);
    }
}

impl Drop for Driving {
    fn drop(&mut self) {
        let mut live = self.inner.live_map();
        if live
            .get(&self.saga_id)
            .is_some_and(|h| h.status.same_channel(&self.status))
        {
            live.remove(&self.saga_id);
        }
    }
}

/// How often a caller waiting on a saga that another replica drives checks the log.
const OTHER_REPLICA_POLL: Duration = Duration::from_millis(50);

impl Inner {
    /// The saga that holds the key: the same request gets it back, and gets it driven if
    /// nobody drives it: one this replica holds but does not drive (its insert or claim
    /// committed but reported an error) is taken up again; another replica's is claimed
    /// if its lease expired, and otherwise left to its owner.
    async fn existing(
        self: &Arc<Self>,
        existing: SagaRecord,
        start: &SagaStart,
    ) -> Result<String, EngineError> {
        if existing.definition != start.runnable.name() || existing.input != start.input {
            return Err(EngineError::KeyReused {
                saga_id: existing.saga_id,
            });
        }
        let saga_id = existing.saga_id.clone();
        if existing.state.status().is_terminal() || self.watch(&saga_id).is_some() {
            return Ok(saga_id);
        }
        if existing.owner == self.replica_id {
            tracing::info!(saga_id = %saga_id, "saga of ours not driven; taking it up");
            self.resume(existing);
        } else if self.claim_and_resume(Claim::ExpiredSaga(&saga_id)).await? > 0 {
            tracing::info!(saga_id = %saga_id, owner = %existing.owner, "took over the saga of a retried key: its lease had expired");
        }
        Ok(saga_id)
    }

    /// How many more sagas this process has room to drive.
    fn room(&self) -> usize {
        self.max_in_flight.saturating_sub(self.live_map().len())
    }

    /// The ids of the sagas this process drives (or is about to).
    fn driven(&self) -> Vec<String> {
        self.live_map().keys().cloned().collect()
    }

    /// Sets the gauges of the sagas this process drives, and of those parked.
    fn gauge(&self) {
        let live = self.live_map();
        let parked = live
            .values()
            .filter(|h| h.parked.load(Ordering::Relaxed))
            .count();
        metrics::gauge!(crate::metrics::IN_FLIGHT).set(live.len() as f64);
        metrics::gauge!(crate::metrics::PARKED).set(parked as f64);
    }

    /// Registers the driver of `saga`, until the returned guard is dropped; `None` when
    /// this process already drives it, in which case no second driver may start.
    fn remember(
        self: &Arc<Self>,
        saga_id: &str,
        status: &watch::Sender<Progress>,
    ) -> Option<Driving> {
        match self.live_map().entry(saga_id.to_string()) {
            Entry::Occupied(_) => None,
            Entry::Vacant(slot) => {
                let status = status.subscribe();
                let (asked, mailbox) = mpsc::channel(MAILBOX);
                let parked = Arc::new(AtomicBool::new(false));
                slot.insert(Handle {
                    status: status.clone(),
                    asked,
                    parked: parked.clone(),
                });
                Some(Driving {
                    inner: self.clone(),
                    saga_id: saga_id.to_string(),
                    status,
                    asked: mailbox,
                    parked,
                })
            }
        }
    }

    fn watch(&self, saga_id: &str) -> Option<watch::Receiver<Progress>> {
        self.live_map().get(saga_id).map(|h| h.status.clone())
    }

    /// The mailbox of the saga's driver, when this process drives it.
    fn mailbox(&self, saga_id: &str) -> Option<mpsc::Sender<Asked>> {
        self.live_map().get(saga_id).map(|h| h.asked.clone())
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handle>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
