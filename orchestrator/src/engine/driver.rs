//! Drives one saga: carry out its command, feed the outcome to the state machine,
//! commit the transition, repeat until the saga ends.
//!
//! A transition is durable before its command is carried out: the log never lags
//! behind the world. A driver cut off (shutdown, crash) leaves the saga unfinished in
//! the log, where recovery finds it.

use std::sync::Arc;
use std::time::Duration;

use saga_definitions::machine::{
    self, Command, Context, Event, LogRecord, Policy, SagaScope, SagaState, SagaStatus,
};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tracing::Instrument;

use super::Inner;
use super::calls::Call;
use super::clock::Entropy;
use super::intervene::{self, Asked, Decided};
use crate::definitions::Runnable;
use crate::store::{LogEntry, SagaRecord, SagaWrite, StoreError};

/// What the watchers of a saga driven here see: its status and, once it ended, its
/// record when this driver wrote all of it (it drove the saga from its start), so that
/// the call waiting for the end is answered without reading the log back.
#[derive(Debug, Clone)]
pub(super) struct Progress {
    pub status: SagaStatus,
    pub ended: Option<Arc<SagaRecord>>,
}

impl Progress {
    pub fn of(status: SagaStatus) -> Self {
        Self {
            status,
            ended: None,
        }
    }
}

/// A saga being driven, as of its last committed transition.
#[derive(Debug)]
pub(super) struct LiveSaga {
    pub id: String,
    pub key: String,
    pub input: Value,
    /// The definition version the saga is pinned to.
    pub runnable: Arc<Runnable>,
    pub state: SagaState,
    pub version: i64,
    pub log_len: u32,
    /// When the saga was accepted; its deadline counts from here.
    pub started_ms: i64,
    /// The trace its calls join (the `traceparent` of the call that started it).
    pub trace_context: String,
    /// When its last transition was committed.
    pub updated_ms: i64,
    /// Its whole log when this driver wrote all of it; `None` for a saga taken up from
    /// the log (claimed, resumed, or taken for an operator's request).
    pub log: Option<Vec<LogEntry>>,
    pub status: watch::Sender<Progress>,
}

impl LiveSaga {
    /// The saga as claimed, reporting its progress to `status`.
    pub fn from_record(
        record: SagaRecord,
        runnable: Arc<Runnable>,
        status: watch::Sender<Progress>,
    ) -> Self {
        Self {
            id: record.saga_id,
            key: record.idempotency_key,
            input: record.input,
            runnable,
            state: record.state,
            version: record.version,
            log_len: record.log_len,
            started_ms: record.created_at_ms,
            trace_context: record.trace_context,
            updated_ms: record.updated_at_ms,
            log: None,
            status,
        }
    }

    /// Its record as the log holds it now, when this driver wrote all of the log (taken
    /// out of it: called once the saga ended). Its row number and lease are the
    /// database's and are left at 0: no client view shows them.
    fn take_record(&mut self, owner: &str) -> Option<SagaRecord> {
        let log = self.log.take()?;
        Some(SagaRecord {
            row: 0,
            saga_id: self.id.clone(),
            idempotency_key: self.key.clone(),
            definition: self.runnable.name().to_string(),
            definition_version: self.runnable.version,
            input: self.input.clone(),
            state: self.state.clone(),
            version: self.version,
            log_len: self.log_len,
            owner: owner.to_string(),
            lease_until_ms: 0,
            created_at_ms: self.started_ms,
            updated_at_ms: self.updated_ms,
            trace_context: self.trace_context.clone(),
            log,
        })
    }
}

/// `records` as the log keeps them after `log_len` earlier ones, written by `writer` at
/// `at_ms` in the write that made the saga's `version`.
pub(super) fn entries(
    log_len: u32,
    records: Vec<LogRecord>,
    at_ms: i64,
    writer: &str,
    version: i64,
) -> impl Iterator<Item = LogEntry> + '_ {
    (log_len + 1..)
        .zip(records)
        .map(move |(seq, record)| LogEntry {
            seq,
            record,
            at_ms,
            writer: writer.to_string(),
            version,
        })
}

impl LiveSaga {
    /// What its transitions read besides its state, at `now_ms`, with a fresh draw of
    /// jitter from `entropy`.
    pub fn context<'a>(
        &'a self,
        policy: &'a Policy,
        now_ms: i64,
        entropy: &Entropy,
    ) -> Context<'a> {
        Context {
            now_ms,
            saga_started_ms: self.started_ms,
            policy,
            definition: self.runnable.definition(),
            jitter: entropy.jitter(),
        }
    }

    /// The saga as its templates see it.
    pub fn scope(&self) -> SagaScope<'_> {
        SagaScope {
            saga_id: &self.id,
            idempotency_key: &self.key,
            input: &self.input,
            definition: self.runnable.definition(),
            state: &self.state,
        }
    }
}

/// Why a driver stopped before its saga ended; the log keeps the saga for recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stopped {
    Shutdown,
    /// The saga's version moved on without this driver: another replica claimed it, or
    /// an earlier commit of ours that reported an error did in fact commit.
    Fenced,
    /// The state machine refused an event: a bug, logged where it happened.
    Refused,
}

/// Runs `saga` from `command` until it ends or the driver must stop; operators'
/// requests are taken between commits, and may cut a call or a backoff short.
pub(super) async fn drive(
    inner: Arc<Inner>,
    mut saga: LiveSaga,
    mut command: Option<Command>,
    seat: Seat,
    mut driving: super::Driving,
) {
    let Seat { slot, ticket } = seat;
    let mut place = Place { held: None, ticket };
    let mut stopped = None;
    driving.mark(&saga.state);
    while let Some(next) = command.take() {
        let turn = carry_out(&inner, &saga, next, &mut place, &mut driving.asked).await;
        let moved = match turn {
            Turn::Event(event) => apply(&inner, &mut saga, &event).await,
            Turn::Asked(decided) => intervene::commit(&inner, &mut saga, decided).await,
            Turn::Shutdown => break,
        };
        match moved {
            Ok(next) => command = next,
            Err(why) => stopped = Some(why),
        }
        driving.mark(&saga.state);
    }
    drop((driving, slot, place));
    if stopped == Some(Stopped::Fenced) {
        inner.take_back_if_still_mine(&saga.id).await;
    }
}

/// What a driver holds for its saga: its slot among the sagas this process drives, and
/// its admission ticket (a new saga admitted by the queue's length).
pub(super) struct Seat {
    pub slot: OwnedSemaphorePermit,
    pub ticket: Option<super::admission::Queued>,
}

/// A saga's place among the sagas making calls (see `admission`), while it has one.
struct Place {
    held: Option<OwnedSemaphorePermit>,
    /// In the queue since its admission, until its first place.
    ticket: Option<super::admission::Queued>,
}

/// What ended the wait for a command.
enum Turn {
    /// Its outcome.
    Event(Event),
    /// An operator's request to commit instead (the command is cut short).
    Asked(Decided),
    Shutdown,
}

/// Carries out one command, answering operators' requests meanwhile: one that changes
/// the saga cuts the command short. A call is made with a `place` (queued for when the
/// saga has none); a wait for a retry gives the place up.
async fn carry_out(
    inner: &Inner,
    saga: &LiveSaga,
    command: Command,
    place: &mut Place,
    mailbox: &mut mpsc::Receiver<Asked>,
) -> Turn {
    if let Command::Wait { .. } = command {
        place.held = None;
    }
    let work = async move {
        if let Command::Send { .. } = command
            && place.held.is_none()
        {
            let entering = inner.admission.enter(place.ticket.take());
            tokio::select! {
                entered = entering => place.held = Some(entered?),
                () = inner.shutdown.cancelled() => return None,
            }
        }
        perform(inner, saga, command).await
    };
    tokio::pin!(work);
    loop {
        tokio::select! {
            event = &mut work => return event.map_or(Turn::Shutdown, Turn::Event),
            Some(asked) = mailbox.recv() => {
                if let Some(decided) = intervene::decide(inner, saga, asked) {
                    return Turn::Asked(decided);
                }
            }
        }
    }
}

/// Carries out one command; `None` when shutdown came first.
async fn perform(inner: &Inner, saga: &LiveSaga, command: Command) -> Option<Event> {
    match command {
        Command::Send {
            step,
            operation,
            attempt,
        } => {
            if inner.shutdown.is_cancelled() {
                return None;
            }
            let call = Call {
                runnable: &saga.runnable,
                scope: saga.scope(),
                step,
                operation,
                attempt,
                trace_context: &saga.trace_context,
            };
            Some(inner.participants.perform(call).await)
        }
        Command::Wait { until_ms, .. } => {
            let wait = until_ms.saturating_sub(inner.clock.now_ms());
            let delay = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(delay) => Some(Event::RetryDue),
                () = inner.shutdown.cancelled() => None,
            }
        }
    }
}

/// Decides and commits the transition for `event`; returns the next command. Its span
/// (saga, event, step, and the saga's trace) is in the saga's trace.
pub(super) async fn apply(
    inner: &Inner,
    saga: &mut LiveSaga,
    event: &Event,
) -> Result<Option<Command>, Stopped> {
    let definition = saga.runnable.definition();
    let step = saga
        .state
        .pending()
        .map_or("", |(s, _, _)| definition.steps[s].name.as_str());
    let span = tracing::info_span!("apply", saga_id = %saga.id, event = event.name(), step, trace_id = tracing::field::Empty);
    service_kit::trace_context::adopt(&span, &saga.trace_context);
    decide_and_commit(inner, saga, event).instrument(span).await
}

async fn decide_and_commit(
    inner: &Inner,
    saga: &mut LiveSaga,
    event: &Event,
) -> Result<Option<Command>, Stopped> {
    let now_ms = inner.clock.now_ms();
    let ctx = saga.context(&inner.policy, now_ms, &inner.entropy);
    let transition = machine::transition(&saga.state, event, &ctx).map_err(|error| {
        tracing::error!(%error, "saga state machine refused the event; saga left for recovery");
        Stopped::Refused
    })?;
    commit(inner, saga, transition, now_ms).await
}

/// Commits `transition`, decided at `now_ms`, and moves `saga` on; returns the next
/// command.
pub(super) async fn commit(
    inner: &Inner,
    saga: &mut LiveSaga,
    transition: machine::Transition,
    now_ms: i64,
) -> Result<Option<Command>, Stopped> {
    if transition.log.is_empty() && transition.state == saga.state {
        // Nothing changed (a resumed saga still waiting for its retry): nothing to write.
        return Ok(transition.command);
    }
    let write = SagaWrite {
        saga_id: &saga.id,
        writer: &inner.replica_id,
        expected_version: saga.version,
        state: &transition.state,
        log: &transition.log,
        log_len: saga.log_len,
        now_ms,
        lease_ms: inner.lease_ms,
    };
    commit_until_durable(inner, &write).await?;
    let status = transition.state.status();
    let age_ms = now_ms - saga.started_ms;
    crate::metrics::saga_moved(saga.runnable.name(), saga.state.status(), status, age_ms);
    log_moved(saga.state.status(), &transition.state);
    let machine::Transition {
        state,
        log,
        command,
    } = transition;
    saga.version += 1;
    let appended = u32::try_from(log.len()).unwrap_or(u32::MAX);
    if let Some(kept) = &mut saga.log {
        kept.extend(entries(
            saga.log_len,
            log,
            now_ms,
            &inner.replica_id,
            saga.version,
        ));
    }
    saga.log_len += appended;
    saga.updated_ms = now_ms;
    saga.state = state;
    let ended = match status.is_terminal() {
        true => saga.take_record(&inner.replica_id).map(Arc::new),
        false => None,
    };
    saga.status.send_replace(Progress { status, ended });
    Ok(command)
}

/// Logs a transition: at `info` when the saga's status changes (it ends, or starts to
/// compensate), at `debug` otherwise. The log holds every transition already; a line
/// for each at `info` cost the orchestrator about 6 % of its CPU at full load.
fn log_moved(from: SagaStatus, to: &SagaState) {
    let status = to.status();
    if status != from {
        tracing::info!(state = to.name(), status = status.as_str(), "saga moved");
    } else {
        tracing::debug!(state = to.name(), status = status.as_str(), "saga moved");
    }
}

/// Commits `write`, retrying while the log is unavailable; gives up when fenced or on
/// shutdown.
async fn commit_until_durable(inner: &Inner, write: &SagaWrite<'_>) -> Result<(), Stopped> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match inner.store.commit(write).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Fenced(_)) => {
                metrics::counter!(crate::metrics::FENCED).increment(1);
                tracing::warn!("saga changed by another writer; no longer driving it");
                return Err(Stopped::Fenced);
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "saga log write failed, retrying");
                let delay = super::backoff::delay(&inner.policy.backoff, attempt, &inner.entropy);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = inner.shutdown.cancelled() => return Err(Stopped::Shutdown),
                }
            }
        }
    }
}
