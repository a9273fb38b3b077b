//! Operators' requests (retry, abort, resolve, skip), decided by the state machine and
//! committed like any transition. A saga this process drives gets the request through
//! its driver's mailbox, between commits; any other (driven by another replica, or by
//! nobody: FAILED, or its driver gone) is taken over by this process in one write fenced
//! by the version it read, which also fences whoever drove it before.

use std::sync::Arc;
use std::time::Duration;

use saga_definitions::machine::{
    self, Context, Intervened, Intervention, LogRecord, Outcome, Refused, SAGA_STEP, Transition,
};
use tokio::sync::{mpsc, oneshot};

use super::driver::{self, LiveSaga, Stopped};
use super::{Engine, EngineError, Inner};
use crate::definitions::DefinitionError;
use crate::store::{SagaRecord, SagaWrite, StoreError};

/// How long a caller waits for the saga's driver to take and commit its request.
const DRIVER_WAIT: Duration = Duration::from_secs(10);
/// Times a request is tried again when the saga moved under it (another writer, or a
/// driver that stopped before answering).
const TRIES: u32 = 8;
/// The pause before trying again.
const PAUSE: Duration = Duration::from_millis(20);

/// An operator's request on its way to the saga's driver.
pub(in crate::engine) struct Asked {
    pub intervention: Intervention,
    pub reply: oneshot::Sender<Tried>,
}

/// A request the driver decided to commit.
pub(in crate::engine) struct Decided {
    reply: oneshot::Sender<Tried>,
    transition: Transition,
    now_ms: i64,
}

/// How one try of a request went.
#[derive(Debug)]
pub(in crate::engine) enum Tried {
    /// Durable (or applied before under the same request id).
    Done,
    Refused(String),
    /// The saga moved under it; try again.
    Again,
}

impl Engine {
    /// Carries out an operator's request on the saga and answers it once the request is
    /// durable (or was applied before under the same request id).
    #[tracing::instrument(skip_all, fields(saga_id = saga_id, action = intervention.action.name()))]
    pub async fn intervene(
        &self,
        saga_id: &str,
        intervention: Intervention,
    ) -> Result<SagaRecord, EngineError> {
        let inner = &self.inner;
        for _ in 0..TRIES {
            if inner.shutdown.is_cancelled() {
                return Err(EngineError::ShuttingDown);
            }
            let tried = match inner.mailbox(saga_id) {
                Some(mailbox) => ask_driver(mailbox, &intervention).await?,
                None => inner.take_over_for(saga_id, &intervention).await?,
            };
            match tried {
                Tried::Done => {
                    tracing::info!(request_id = %intervention.request_id, principal = %intervention.principal, "operator's request carried out");
                    return self.get(saga_id).await;
                }
                Tried::Refused(why) => return Err(EngineError::Refused(why)),
                Tried::Again => tokio::time::sleep(PAUSE).await,
            }
        }
        Err(EngineError::NotYet(
            "the saga kept changing under the request".into(),
        ))
    }
}

/// Hands the request to this process's driver of the saga and waits for its answer.
async fn ask_driver(
    mailbox: mpsc::Sender<Asked>,
    intervention: &Intervention,
) -> Result<Tried, EngineError> {
    let (reply, answer) = oneshot::channel();
    let asked = Asked {
        intervention: intervention.clone(),
        reply,
    };
    let answered = tokio::time::timeout(DRIVER_WAIT, async {
        match mailbox.send(asked).await {
            // A driver that stops drops what it was asked: ask again.
            Ok(()) => answer.await.unwrap_or(Tried::Again),
            Err(_) => Tried::Again,
        }
    });
    answered.await.map_err(|_| {
        EngineError::NotYet(format!(
            "the saga's driver did not take the request within {} s",
            DRIVER_WAIT.as_secs()
        ))
    })
}

/// The driver's side: decides `asked` on the saga as it stands. A refusal, or a request
/// applied before, is answered at once (`None`); otherwise the driver commits it.
pub(super) fn decide(inner: &Inner, saga: &LiveSaga, asked: Asked) -> Option<Decided> {
    let now_ms = inner.clock.now_ms();
    let ctx = saga.context(&inner.policy, now_ms, &inner.entropy);
    let answer = match machine::intervene(&saga.state, &asked.intervention, &ctx) {
        Ok(Intervened::Apply(transition)) => {
            return Some(Decided {
                reply: asked.reply,
                transition,
                now_ms,
            });
        }
        Ok(Intervened::AlreadyApplied) => Tried::Done,
        Err(Refused(why)) => Tried::Refused(why),
    };
    let _ = asked.reply.send(answer);
    None
}

/// The driver's side: commits a decided request and answers it; a driver that must stop
/// drops the answer, and the caller asks again.
pub(super) async fn commit(
    inner: &Inner,
    saga: &mut LiveSaga,
    decided: Decided,
) -> Result<Option<machine::Command>, Stopped> {
    let moved = driver::commit(inner, saga, decided.transition, decided.now_ms).await;
    if moved.is_ok() {
        let _ = decided.reply.send(Tried::Done);
    }
    moved
}

impl Inner {
    /// Decides the request on the saga as stored and commits it in one write that takes
    /// the saga for this process (fenced by the version read); drives the saga on when
    /// it still has a call to make.
    async fn take_over_for(
        self: &Arc<Self>,
        saga_id: &str,
        intervention: &Intervention,
    ) -> Result<Tried, EngineError> {
        let record = self.store.get(saga_id).await?;
        let record = record.ok_or_else(|| EngineError::NotFound(saga_id.to_string()))?;
        let runnable = self
            .definitions
            .runnable(&record.definition, record.definition_version)
            .await
            .map_err(|error| match error {
                DefinitionError::Store(cause) => EngineError::Store(cause),
                other => EngineError::Store(StoreError::Corrupt(other.to_string())),
            })?;
        // A log's stamps never go back, whatever this replica's clock says.
        let now_ms = self.clock.now_ms().max(record.updated_at_ms);
        let ctx = Context {
            now_ms,
            saga_started_ms: record.created_at_ms,
            policy: &self.policy,
            definition: runnable.definition(),
            jitter: self.entropy.jitter(),
        };
        let transition = match machine::intervene(&record.state, intervention, &ctx) {
            Ok(Intervened::Apply(transition)) => transition,
            Ok(Intervened::AlreadyApplied) => return Ok(Tried::Done),
            Err(Refused(why)) => return Ok(Tried::Refused(why)),
        };
        let mut log = Vec::with_capacity(transition.log.len() + 1);
        if record.owner != self.replica_id {
            log.push(self.claimed_for_operator(&record, &transition));
        }
        log.extend(transition.log.iter().cloned());
        let write = SagaWrite {
            saga_id,
            writer: &self.replica_id,
            expected_version: record.version,
            state: &transition.state,
            log: &log,
            log_len: record.log_len,
            now_ms,
            lease_ms: self.lease_ms,
        };
        match self.store.commit(&write).await {
            Ok(()) => {}
            Err(StoreError::Fenced(_)) => {
                metrics::counter!(crate::metrics::FENCED).increment(1);
                return Ok(Tried::Again);
            }
            Err(error) => return Err(error.into()),
        }
        if record.owner != self.replica_id {
            metrics::counter!(crate::metrics::CLAIMS, "kind" => "operator").increment(1);
        }
        let (from, to) = (record.state.status(), transition.state.status());
        let age_ms = now_ms - record.created_at_ms;
        crate::metrics::saga_moved(&record.definition, from, to, age_ms);
        if let Some(command) = transition.command {
            let taken = SagaRecord {
                state: transition.state,
                version: record.version + 1,
                log_len: record.log_len + u32::try_from(log.len()).unwrap_or(u32::MAX),
                owner: self.replica_id.clone(),
                updated_at_ms: now_ms,
                log: Vec::new(),
                ..record
            };
            self.take_up(taken, Some(command));
        }
        Ok(Tried::Done)
    }

    /// The record of taking another replica's saga for an operator's request.
    fn claimed_for_operator(&self, record: &SagaRecord, transition: &Transition) -> LogRecord {
        LogRecord {
            step: SAGA_STEP.to_string(),
            operation: None,
            outcome: Outcome::Claimed,
            attempt: 0,
            detail: format!(
                "claimed by {} from {} for an operator's request",
                self.replica_id, record.owner
            ),
            status: transition.state.status(),
        }
    }
}
