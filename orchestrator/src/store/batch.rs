//! Group commit: the writes of many sagas share one transaction, so one durable commit
//! (one fsync) serves them all. Every caller is answered only after the commit that
//! holds its write; nothing is acted on before it is durable.
//!
//! One task owns the writing: it takes whatever writes are waiting (up to a batch), runs
//! them in one transaction and commits. While it commits, new writes queue up, so the
//! batch grows with the load and a lone write is committed at once. A batch that fails
//! is retried one write per transaction, so one bad write cannot fail the others. A
//! batch first goes in one go (see `script`: one script on SQLite, one statement on
//! PostgreSQL); the writes it did not commit (a saga fenced or its key taken) go
//! statement by statement, each statement covering all of them (see `writes`).

use service_kit::db::{Db, Tx};
use tokio::sync::{mpsc, oneshot};

use super::script::{self, Written};
use super::statements::select_saga_by_key;
use super::writes::{
    Append, first_records, insert_logs, insert_sagas, transition_records, update_sagas,
};
use super::{FeedLease, Inserted, Lease, NewSaga, SagaWrite, StoreError};
use saga_definitions::machine::{LogRecord, SagaState};
use serde_json::Value;

/// Writes waiting for the committer at most; callers beyond wait for room.
const QUEUE: usize = 16_384;

/// The handle writers send their writes through.
#[derive(Debug, Clone)]
pub(super) struct GroupCommitter {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommitter {
    /// Starts the committer task; it ends when the last handle is dropped.
    pub fn start(db: Db, max_batch: usize) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(service_kit::db::run_batches(
            queue,
            max_batch,
            move |batch| {
                let db = db.clone();
                async move { commit_batch(&db, batch).await }
            },
        ));
        Self { jobs }
    }

    pub async fn insert(&self, new: &NewSaga<'_>) -> Result<Inserted, StoreError> {
        let rows = script::Rows::of_new(new)?;
        let (reply, answer) = oneshot::channel();
        let job = Job::Insert(OwnedNew::from(new), rows, reply);
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub async fn commit(&self, write: &SagaWrite<'_>) -> Result<(), StoreError> {
        let rows = script::Rows::of_write(write)?;
        let (reply, answer) = oneshot::channel();
        let job = Job::Commit(OwnedWrite::from(write), rows, reply);
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// A write waiting for the committer, with its rows for the commit in one go.
#[derive(Debug)]
enum Job {
    Insert(
        OwnedNew,
        script::Rows,
        oneshot::Sender<Result<Inserted, StoreError>>,
    ),
    Commit(
        OwnedWrite,
        script::Rows,
        oneshot::Sender<Result<(), StoreError>>,
    ),
}

impl Job {
    fn saga_id(&self) -> &str {
        match self {
            Job::Insert(new, ..) => &new.saga_id,
            Job::Commit(write, ..) => &write.saga_id,
        }
    }
}

/// What one write did inside a transaction that then committed.
#[derive(Debug)]
enum Done {
    Inserted(Inserted),
    Committed(Result<(), StoreError>),
}

async fn commit_batch(db: &Db, jobs: Vec<Job>) {
    let jobs = match in_one_go(db, &jobs).await {
        Ok(Written::All) => return jobs.into_iter().for_each(reply_whole),
        Ok(Written::Only(written)) => {
            let (done, rest) = jobs
                .into_iter()
                .partition::<Vec<_>, _>(|job| written.contains(job.saga_id()));
            done.into_iter().for_each(reply_whole);
            rest
        }
        Err(error) => {
            tracing::debug!(%error, writes = jobs.len(), "the batch did not commit in one go; running it statement by statement");
            jobs
        }
    };
    if jobs.len() > 1 {
        match run_together(db, &jobs).await {
            Ok(done) => {
                return jobs
                    .into_iter()
                    .zip(done)
                    .for_each(|(job, d)| reply(job, Ok(d)));
            }
            Err(error) => {
                tracing::warn!(%error, writes = jobs.len(), "group commit failed; retrying each write alone");
            }
        }
    }
    for job in jobs {
        let done = run_together(db, std::slice::from_ref(&job)).await;
        reply(job, done.map(|mut d| d.remove(0)));
    }
}

/// Commits `jobs` in one go (see `script`).
async fn in_one_go(db: &Db, jobs: &[Job]) -> Result<Written, StoreError> {
    let (mut news, mut writes) = (Vec::new(), Vec::new());
    for job in jobs {
        match job {
            Job::Insert(_, rows, _) => news.push(rows),
            Job::Commit(_, rows, _) => writes.push(rows),
        }
    }
    script::commit(db, &news, &writes).await
}

/// Runs `jobs` in one transaction and commits it: a few statements for the whole batch.
async fn run_together(db: &Db, jobs: &[Job]) -> Result<Vec<Done>, StoreError> {
    let (news, writes) = split(jobs);
    let mut tx = db.begin_write().await?;
    let inserted = insert_sagas(&mut tx, &news).await?;
    let updated = update_sagas(&mut tx, &writes).await?;
    let appends: Vec<Append> = news
        .iter()
        .filter(|new| inserted.contains(new.saga_id))
        .map(first_records)
        .chain(
            writes
                .iter()
                .filter(|w| updated.contains(w.saga_id))
                .map(transition_records),
        )
        .collect();
    insert_logs(&mut tx, &appends).await?;
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        done.push(match job {
            Job::Insert(new, ..) if inserted.contains(&new.saga_id) => {
                Done::Inserted(Inserted::New)
            }
            Job::Insert(new, ..) => Done::Inserted(holder(&mut tx, &new.idempotency_key).await?),
            Job::Commit(write, ..) if updated.contains(&write.saga_id) => Done::Committed(Ok(())),
            Job::Commit(write, ..) => {
                Done::Committed(Err(StoreError::Fenced(write.saga_id.clone())))
            }
        });
    }
    tx.commit().await?;
    Ok(done)
}

/// The batch's new sagas and its transitions, each in the batch's order.
fn split(jobs: &[Job]) -> (Vec<NewSaga<'_>>, Vec<SagaWrite<'_>>) {
    let mut news = Vec::new();
    let mut writes = Vec::new();
    for job in jobs {
        match job {
            Job::Insert(new, ..) => news.push(new.borrowed()),
            Job::Commit(write, ..) => writes.push(write.borrowed()),
        }
    }
    (news, writes)
}

/// Inserts one page of a feed's sagas and moves the feed, in one transaction.
pub(super) async fn insert_page(
    db: &Db,
    news: &[NewSaga<'_>],
    feed: FeedLease<'_>,
    position: &str,
) -> Result<Vec<Inserted>, StoreError> {
    let mut tx = db.begin_write().await?;
    let inserted = insert_sagas(&mut tx, news).await?;
    let appends: Vec<Append> = news
        .iter()
        .filter(|new| inserted.contains(new.saga_id))
        .map(first_records)
        .collect();
    insert_logs(&mut tx, &appends).await?;
    let mut done = Vec::with_capacity(news.len());
    for new in news {
        done.push(match inserted.contains(new.saga_id) {
            true => Inserted::New,
            false => holder(&mut tx, new.idempotency_key).await?,
        });
    }
    if !super::feeds::advance(&mut tx, feed, position).await? {
        tx.rollback().await?;
        return Err(StoreError::Fenced(feed.feed.to_string()));
    }
    tx.commit().await?;
    Ok(done)
}

/// The saga that holds `key`, which an insert found taken.
async fn holder(tx: &mut Tx, key: &str) -> Result<Inserted, StoreError> {
    let existing = select_saga_by_key(tx, key).await?;
    let existing = existing.ok_or_else(|| StoreError::Corrupt(format!("key {key} vanished")))?;
    Ok(Inserted::Existing(Box::new(existing)))
}

/// Answers a job of a batch that committed whole: its saga was new, its write unfenced.
fn reply_whole(job: Job) {
    match job {
        Job::Insert(.., to) => drop(to.send(Ok(Inserted::New))),
        Job::Commit(.., to) => drop(to.send(Ok(()))),
    }
}

fn reply(job: Job, done: Result<Done, StoreError>) {
    // A caller that went away no longer needs its answer; its write stands.
    match (job, done) {
        (Job::Insert(.., to), Ok(Done::Inserted(inserted))) => drop(to.send(Ok(inserted))),
        (Job::Commit(.., to), Ok(Done::Committed(result))) => drop(to.send(result)),
        (Job::Insert(.., to), Err(error)) => drop(to.send(Err(error))),
        (Job::Commit(.., to), Err(error)) => drop(to.send(Err(error))),
        (Job::Insert(.., to), Ok(Done::Committed(_))) => drop(to.send(Err(mismatch()))),
        (Job::Commit(.., to), Ok(Done::Inserted(_))) => drop(to.send(Err(mismatch()))),
    }
}

fn mismatch() -> StoreError {
    StoreError::Corrupt("group commit answered a write with another write's result".into())
}

/// A [`NewSaga`] that can wait in the queue.
#[derive(Debug)]
struct OwnedNew {
    saga_id: String,
    idempotency_key: String,
    definition: String,
    definition_version: u32,
    input: Value,
    state: SagaState,
    log: Vec<LogRecord>,
    now_ms: i64,
    trace_context: String,
    owner: String,
    lease_ms: i64,
}

impl From<&NewSaga<'_>> for OwnedNew {
    fn from(new: &NewSaga<'_>) -> Self {
        Self {
            saga_id: new.saga_id.to_string(),
            idempotency_key: new.idempotency_key.to_string(),
            definition: new.definition.to_string(),
            definition_version: new.definition_version,
            input: new.input.clone(),
            state: new.state.clone(),
            log: new.log.to_vec(),
            now_ms: new.now_ms,
            trace_context: new.trace_context.to_string(),
            owner: new.lease.owner.to_string(),
            lease_ms: new.lease.ms,
        }
    }
}

impl OwnedNew {
    fn borrowed(&self) -> NewSaga<'_> {
        NewSaga {
            saga_id: &self.saga_id,
            idempotency_key: &self.idempotency_key,
            definition: &self.definition,
            definition_version: self.definition_version,
            input: &self.input,
            state: &self.state,
            log: &self.log,
            now_ms: self.now_ms,
            trace_context: &self.trace_context,
            lease: Lease {
                owner: &self.owner,
                ms: self.lease_ms,
            },
        }
    }
}

/// A [`SagaWrite`] that can wait in the queue.
#[derive(Debug)]
struct OwnedWrite {
    saga_id: String,
    writer: String,
    expected_version: i64,
    state: SagaState,
    log: Vec<LogRecord>,
    log_len: u32,
    now_ms: i64,
    lease_ms: i64,
}

impl From<&SagaWrite<'_>> for OwnedWrite {
    fn from(write: &SagaWrite<'_>) -> Self {
        Self {
            saga_id: write.saga_id.to_string(),
            writer: write.writer.to_string(),
            expected_version: write.expected_version,
            state: write.state.clone(),
            log: write.log.to_vec(),
            log_len: write.log_len,
            now_ms: write.now_ms,
            lease_ms: write.lease_ms,
        }
    }
}

impl OwnedWrite {
    fn borrowed(&self) -> SagaWrite<'_> {
        SagaWrite {
            saga_id: &self.saga_id,
            writer: &self.writer,
            expected_version: self.expected_version,
            state: &self.state,
            log: &self.log,
            log_len: self.log_len,
            now_ms: self.now_ms,
            lease_ms: self.lease_ms,
        }
    }
}
