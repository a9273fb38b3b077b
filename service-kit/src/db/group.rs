//! Group commit for request handlers: the write transactions of concurrent requests run
//! one after another inside one database transaction, each under its own savepoint, and
//! share one durable commit. Each request is answered only after that commit; one whose
//! body fails is rolled back to its savepoint alone.
//!
//! On SQLite, which commits one writer at a time with an fsync each, this turns N
//! commits into one. A lone request is committed at once: batches form only while a
//! commit is under way.
//!
//! A writer may carry a plan ([`crate::write_plan`]): the calls sent to it as data are
//! decided together for the batch, first, in the same transaction as the bodies.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Db, Tx};
use crate::on_backend;
use crate::write_plan::{self, NoPlan, WritePlan};

/// A boxed future borrowing the transaction, as request bodies return.
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// Requests waiting for the writer at most; callers beyond wait for room.
const QUEUE: usize = 16_384;

/// What a job reports once its body ran: keep its writes or not, and how to answer once
/// the commit is known.
struct Ran {
    keep: bool,
    answer: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// A request body, type-erased; given `Err` when it cannot run at all.
type Body = Box<dyn for<'t> FnOnce(Result<&'t mut Tx, String>) -> TxFuture<'t, Ran> + Send>;

/// What a planned call is answered with: its encoded answer.
type Reply<P> = oneshot::Sender<Result<Vec<u8>, <P as WritePlan>::Error>>;

/// A request: a body of code, or a call of the writer's plan.
enum Job<P: WritePlan> {
    Body(Body),
    Planned(P::Request, Reply<P>),
}

/// The handle request handlers send their write transactions through; `P` is the plan
/// that decides a batch's planned calls together ([`NoPlan`] when there is none).
pub struct GroupWriter<P: WritePlan = NoPlan> {
    jobs: mpsc::Sender<Job<P>>,
}

impl<P: WritePlan> Clone for GroupWriter<P> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<P: WritePlan> std::fmt::Debug for GroupWriter<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl GroupWriter {
    /// Starts the writer task on `db`; up to `max_batch` requests share one commit. It
    /// ends when the last handle is dropped. Must be called inside a tokio runtime.
    pub fn start(db: Db, max_batch: usize) -> Self {
        Self::with_plan(db, max_batch, NoPlan)
    }
}

impl<P: WritePlan> GroupWriter<P> {
    /// [`GroupWriter::start`], with `plan` deciding the calls sent through
    /// [`GroupWriter::planned`] a batch at a time.
    pub fn with_plan(db: Db, max_batch: usize, plan: P) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let plan = Arc::new(plan);
        tokio::spawn(super::run_batches(queue, max_batch, move |batch| {
            let (db, plan) = (db.clone(), plan.clone());
            async move { commit_batch(&db, &*plan, batch).await }
        }));
        Self { jobs }
    }

    /// Runs `body` in a write transaction shared with other requests and returns its
    /// result once the transaction has committed. An `Err` from `body` undoes its writes
    /// (and only its writes); a failed commit answers every request with an error.
    pub async fn write<T, E, F>(&self, body: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, Result<T, E>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let body: Body = Box::new(move |tx| {
            Box::pin(async move {
                let result = match tx {
                    Ok(tx) => body(tx).await,
                    Err(cause) => Err(E::from(storage_error(cause))),
                };
                let keep = result.is_ok();
                let answer = Box::new(move |committed: Result<(), String>| {
                    let answer = committed.map_err(|c| E::from(storage_error(c))).and(result);
                    // A caller that went away no longer needs its answer.
                    let _ = reply.send(answer);
                });
                Ran { keep, answer }
            })
        });
        self.send(Job::Body(body)).await?;
        answer
            .await
            .map_err(|_| E::from(storage_error("the writer stopped".into())))?
    }

    /// Has the plan decide `request` together with the batch it joins and returns its
    /// encoded answer once the batch has committed.
    pub async fn planned(&self, request: P::Request) -> Result<Vec<u8>, P::Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Planned(request, reply)).await?;
        answer
            .await
            .map_err(|_| P::Error::from(storage_error("the writer stopped".into())))?
    }

    async fn send<E: From<sqlx::Error>>(&self, job: Job<P>) -> Result<(), E> {
        self.jobs
            .send(job)
            .await
            .map_err(|_| E::from(storage_error("the writer stopped".into())))
    }
}

/// Runs the batch's planned calls, then every body under its own savepoint, commits,
/// then answers them all.
async fn commit_batch<P: WritePlan>(db: &Db, plan: &P, jobs: Vec<Job<P>>) {
    let (mut bodies, mut requests, mut replies) = (Vec::new(), Vec::new(), Vec::new());
    for job in jobs {
        match job {
            Job::Body(body) => bodies.push(body),
            Job::Planned(request, reply) => {
                requests.push(request);
                replies.push(reply);
            }
        }
    }
    let (mut tx, planned) = match plan_batch(db, plan, requests, !bodies.is_empty()).await {
        Ok(planned) => planned,
        Err(error) if replies.is_empty() => return fail_all(bodies, error.to_string()).await,
        Err(error) => {
            // The planned calls fail; the bodies, which may not depend on them, run in a
            // transaction of their own.
            tracing::error!(%error, requests = replies.len(), "a write plan failed");
            fail_replies::<P>(replies, &error.to_string());
            if bodies.is_empty() {
                return;
            }
            let bodies = bodies.into_iter().map(Job::Body).collect();
            return Box::pin(commit_batch::<P>(db, plan, bodies)).await;
        }
    };
    if planned.is_empty()
        && bodies.len() == 1
        && let Some(body) = bodies.pop()
    {
        return commit_alone(tx, body).await;
    }
    let (ran, broken, left) = run_bodies(&mut tx, bodies).await;
    let committed = match broken {
        Some(error) => {
            let _ = tx.rollback().await;
            Err(error.to_string())
        }
        None => tx.commit().await.map_err(|error| error.to_string()),
    };
    if let Err(error) = &committed {
        tracing::error!(%error, requests = ran.len() + planned.len(), "group commit failed");
    }
    for (outcome, reply) in planned.into_iter().zip(replies) {
        let answer = match &committed {
            Ok(()) => outcome,
            Err(cause) => Err(P::Error::from(storage_error(cause.clone()))),
        };
        let _ = reply.send(answer);
    }
    for done in ran {
        (done.answer)(committed.clone());
    }
    fail_all(left, "the batch transaction failed".into()).await;
}

/// What each planned call was answered, in order.
type Outcomes<P> = Vec<Result<Vec<u8>, <P as WritePlan>::Error>>;

/// Begins the batch's transaction, with the locks its planned calls need, and runs the
/// plan for them; its writes are flushed when bodies follow, so that they see them. On an
/// `Err` nothing is left begun: a failed statement spoils the transaction (PostgreSQL
/// refuses every later one), and a row that changed since it was read fails the check
/// of the writes.
async fn plan_batch<P: WritePlan>(
    db: &Db,
    plan: &P,
    requests: Vec<P::Request>,
    bodies_follow: bool,
) -> Result<(Tx, Outcomes<P>), sqlx::Error> {
    let mut tx = db
        .begin_write_locked(&write_plan::lock_keys::<P>(&requests))
        .await?;
    if requests.is_empty() {
        return Ok((tx, Vec::new()));
    }
    let planned = match write_plan::run(plan, &mut tx, requests).await {
        Ok(planned) if bodies_follow => tx.flush().await.map(|()| planned),
        planned => planned,
    };
    match planned {
        Ok(planned) => Ok((tx, planned)),
        Err(error) => {
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// Runs each body under its own savepoint, in `tx`: what they reported, the error that
/// broke the transaction if one did, and the bodies that did not run because of it.
async fn run_bodies(tx: &mut Tx, bodies: Vec<Body>) -> (Vec<Ran>, Option<sqlx::Error>, Vec<Body>) {
    let total = bodies.len();
    let mut ran = Vec::with_capacity(total);
    if total == 0 {
        return (ran, None, Vec::new());
    }
    let mut broken = savepoint(tx, OPEN).await.err();
    let mut bodies = bodies.into_iter();
    if broken.is_none() {
        for body in bodies.by_ref() {
            let done = body(Ok(&mut *tx)).await;
            let last = ran.len() + 1 == total;
            let end = match (done.keep, last) {
                // COMMIT releases the last savepoint.
                (true, true) => Ok(()),
                (true, false) => savepoint(tx, NEXT).await,
                (false, true) => savepoint(tx, UNDO).await,
                (false, false) => savepoint(tx, UNDO_NEXT).await,
            };
            ran.push(done);
            if let Err(error) = end {
                broken = Some(error);
                break;
            }
        }
    }
    (ran, broken, bodies.collect())
}

fn fail_replies<P: WritePlan>(replies: Vec<Reply<P>>, cause: &str) {
    for reply in replies {
        let _ = reply.send(Err(P::Error::from(storage_error(cause.to_string()))));
    }
}

/// A lone job needs no savepoint: its transaction is its own, kept or rolled back.
async fn commit_alone(mut tx: Tx, body: Body) {
    let done = body(Ok(&mut tx)).await;
    let committed = match done.keep {
        true => tx.commit().await.map_err(|error| error.to_string()),
        // The job's own error is its answer; nothing of it was kept.
        false => {
            let _ = tx.rollback().await;
            Ok(())
        }
    };
    if let Err(error) = &committed {
        tracing::error!(%error, requests = 1, "commit failed");
    }
    (done.answer)(committed);
}

/// Savepoint statements; each string is one round trip (several statements at once).
const OPEN: &str = "SAVEPOINT request";
/// Keeps the request's writes and opens the next request's savepoint.
const NEXT: &str = "RELEASE SAVEPOINT request; SAVEPOINT request";
/// Drops the request's writes.
const UNDO: &str = "ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request";
/// Drops the request's writes and opens the next request's savepoint.
const UNDO_NEXT: &str =
    "ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request; SAVEPOINT request";

async fn savepoint(tx: &mut Tx, statements: &'static str) -> Result<(), sqlx::Error> {
    on_backend!(tx, conn => sqlx::raw_sql(statements).execute(conn).await.map(|_| ()))
}

async fn fail_all(bodies: Vec<Body>, cause: String) {
    for body in bodies {
        let ran = body(Err(cause.clone())).await;
        (ran.answer)(Err(cause.clone()));
    }
}

fn storage_error(cause: String) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(cause))
}
