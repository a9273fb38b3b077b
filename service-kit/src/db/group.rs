//! Group commit for request handlers: the write transactions of concurrent requests run
//! one after another inside one database transaction, each under its own savepoint, and
//! share one durable commit. Each request is answered only after that commit; one whose
//! body fails is rolled back to its savepoint alone.
//!
//! On SQLite, which commits one writer at a time with an fsync each, this turns N
//! commits into one. A lone request is committed at once: batches form only while a
//! commit is under way.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, oneshot};

use super::{Db, Tx};
use crate::on_backend;

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
type Job = Box<dyn for<'t> FnOnce(Result<&'t mut Tx, String>) -> TxFuture<'t, Ran> + Send>;

/// The handle request handlers send their write transactions through.
#[derive(Debug, Clone)]
pub struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writer task on `db`; up to `max_batch` requests share one commit. It
    /// ends when the last handle is dropped. Must be called inside a tokio runtime.
    pub fn start(db: Db, max_batch: usize) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(super::run_batches(queue, max_batch, move |batch| {
            let db = db.clone();
            async move { commit_batch(&db, batch).await }
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
        let job: Job = Box::new(move |tx| {
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
        self.jobs
            .send(job)
            .await
            .map_err(|_| E::from(storage_error("the writer stopped".into())))?;
        answer
            .await
            .map_err(|_| E::from(storage_error("the writer stopped".into())))?
    }
}

/// Runs every job of the batch under its own savepoint, commits, then answers them all.
async fn commit_batch(db: &Db, mut jobs: Vec<Job>) {
    let mut tx = match db.begin_write().await {
        Ok(tx) => tx,
        Err(error) => return fail_all(jobs, error.to_string()).await,
    };
    if jobs.len() == 1
        && let Some(job) = jobs.pop()
    {
        return commit_alone(tx, job).await;
    }
    let total = jobs.len();
    let mut ran = Vec::with_capacity(total);
    let mut broken = savepoint(&mut tx, OPEN).await.err();
    let mut jobs = jobs.into_iter();
    if broken.is_none() {
        for job in jobs.by_ref() {
            let done = job(Ok(&mut tx)).await;
            let last = ran.len() + 1 == total;
            let end = match (done.keep, last) {
                // COMMIT releases the last savepoint.
                (true, true) => Ok(()),
                (true, false) => savepoint(&mut tx, NEXT).await,
                (false, true) => savepoint(&mut tx, UNDO).await,
                (false, false) => savepoint(&mut tx, UNDO_NEXT).await,
            };
            ran.push(done);
            if let Err(error) = end {
                broken = Some(error);
                break;
            }
        }
    }
    let committed = match broken {
        Some(error) => {
            let _ = tx.rollback().await;
            Err(error.to_string())
        }
        None => tx.commit().await.map_err(|error| error.to_string()),
    };
    if let Err(error) = &committed {
        tracing::error!(%error, requests = ran.len(), "group commit failed");
    }
    for done in ran {
        (done.answer)(committed.clone());
    }
    fail_all(jobs.collect(), "the batch transaction failed".into()).await;
}

/// A lone job needs no savepoint: its transaction is its own, kept or rolled back.
async fn commit_alone(mut tx: Tx, job: Job) {
    let done = job(Ok(&mut tx)).await;
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

async fn fail_all(jobs: Vec<Job>, cause: String) {
    for job in jobs {
        let ran = job(Err(cause.clone())).await;
        (ran.answer)(Err(cause.clone()));
    }
}

fn storage_error(cause: String) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(cause))
}
