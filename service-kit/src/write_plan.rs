//! A participant's saga calls decided a batch at a time, as one write plan: the batch's
//! barrier records and rows are read with one statement each, every call is decided in
//! memory in arrival order (each seeing what the ones before it decided), and what they
//! decided is written with one multi-row statement per table. A batch of N calls then
//! costs a handful of statements instead of four or five per call: on SQLite every
//! statement is a hand-off to the connection's thread and back, which was most of a
//! participant's CPU; on PostgreSQL a round trip and an executor start on the server,
//! so there the writes go as one statement and the sagas' locks with the BEGIN.
//!
//! The group writer ([`crate::db::GroupWriter::with_plan`]) runs the plan for the
//! planned calls of a batch and commits it with the batch; every call is answered after
//! that commit. A participant implements [`WritePlan`]: which barrier step a call is,
//! what to read for a batch, how to decide one call over what was read (pure), and how
//! to write what was decided. The barrier's rule stays here: a repeat is answered with
//! its recorded answer without reaching the plan, and an answer is the encoded message
//! the barrier records, which the caller decodes as the type it expects.

use std::collections::HashMap;
use std::convert::Infallible;

use sqlx::AssertSqlSafe;

use crate::barrier::{self, Entry, Record, Step};
use crate::db::{self, Tx, TxFuture};
use crate::on_backend;

/// A participant's planned saga calls.
pub trait WritePlan: Send + Sync + 'static {
    /// One validated call, of any of the planned operations.
    type Request: Send + 'static;
    /// Why a call failed; a storage error fails every call of the batch.
    type Error: From<sqlx::Error> + Send + 'static;
    /// The rows a batch read, with the changes its calls decided so far.
    type View: Send;

    /// The call's barrier step.
    fn step(request: &Self::Request) -> Step<'_>;

    /// Reads what deciding `requests` needs, inside the batch's write transaction (after
    /// the barrier has queued the batch behind each of its sagas).
    fn read<'t>(
        &'t self,
        tx: &'t mut Tx,
        requests: &'t [Self::Request],
    ) -> TxFuture<'t, Result<Self::View, sqlx::Error>>;

    /// Decides one call that is not a repeat, given its barrier `entry` and the batch's
    /// `records`: its encoded answer, which the barrier records (for a compensation with
    /// nothing to undo, the tombstone). Changes `view` only when it succeeds: a refusal
    /// leaves no trace. Pure: no IO.
    fn decide(
        &self,
        view: &mut Self::View,
        records: &Records,
        request: Self::Request,
        entry: Entry,
    ) -> Result<Vec<u8>, Self::Error>;

    /// Writes the changes `view` holds, in the batch's transaction, through
    /// [`crate::write_later!`]: they run with the commit, so a check of what a write
    /// changed goes through [`Tx::require_changes`], and no two of them may change the
    /// same row (on PostgreSQL they go as one statement).
    fn write<'t>(
        &'t self,
        tx: &'t mut Tx,
        view: Self::View,
    ) -> TxFuture<'t, Result<(), sqlx::Error>>;
}

/// The barrier records of a batch's sagas, with those its calls decided so far.
#[derive(Debug, Default)]
pub struct Records {
    by_saga: HashMap<String, Vec<Record>>,
}

impl Records {
    /// The saga's records.
    pub fn of(&self, saga_id: &str) -> &[Record] {
        self.by_saga.get(saga_id).map_or(&[], Vec::as_slice)
    }

    /// Whether the saga's operation `op` has a record.
    pub fn recorded(&self, saga_id: &str, op: &str) -> bool {
        self.of(saga_id).iter().any(|(o, _)| o == op)
    }

    fn add(&mut self, saga_id: &str, op: &str, answer: Option<Vec<u8>>) {
        self.by_saga
            .entry(saga_id.to_string())
            .or_default()
            .push((op.to_string(), answer));
    }
}

/// A batch's rows of one kind, at most one per saga, in the order the batch met them (so
/// that rows it creates are written, and numbered, in arrival order), found by saga.
#[derive(Debug)]
pub struct BySaga<T> {
    rows: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for BySaga<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> BySaga<T> {
    /// Adds the row of `saga_id` (replacing, for lookups, one it had).
    pub fn add(&mut self, saga_id: &str, row: T) {
        self.index.insert(saga_id.to_string(), self.rows.len());
        self.rows.push(row);
    }

    /// The row of `saga_id`, if the batch has one.
    pub fn get_mut(&mut self, saga_id: &str) -> Option<&mut T> {
        let at = *self.index.get(saga_id)?;
        self.rows.get_mut(at)
    }

    /// Every row, in the order added.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.rows.iter()
    }
}

/// The barrier's queue for a batch's sagas: the keys of the locks its transaction must
/// hold ([`crate::db::Db::begin_write_locked`]; on PostgreSQL, which runs writers side by
/// side, one transaction-scoped lock per saga).
pub fn lock_keys<P: WritePlan>(requests: &[P::Request]) -> Vec<i64> {
    requests
        .iter()
        .map(|request| barrier::lock_key(P::step(request).saga_id))
        .collect()
}

/// Runs the plan for `requests` in `tx`, begun with the locks of [`lock_keys`], and
/// returns each call's encoded answer, in order. An `Err` is a failed statement: the
/// transaction must be rolled back and every call failed.
pub async fn run<P: WritePlan>(
    plan: &P,
    tx: &mut Tx,
    requests: Vec<P::Request>,
) -> Result<Vec<Result<Vec<u8>, P::Error>>, sqlx::Error> {
    let mut sagas: Vec<&str> = requests.iter().map(|r| P::step(r).saga_id).collect();
    sagas.sort_unstable();
    sagas.dedup();
    let mut records = read_records(tx, &sagas).await?;
    let mut view = plan.read(tx, &requests).await?;
    let mut outcomes = Vec::with_capacity(requests.len());
    let mut kept = Vec::new();
    for request in requests {
        let step = P::step(&request);
        let (saga_id, op) = (step.saga_id.to_string(), step.op.to_string());
        let entry = barrier::entry_of(&step, records.of(&saga_id));
        barrier::count(&entry);
        outcomes.push(match entry {
            Entry::Repeat(first) => Ok(first),
            entry => plan
                .decide(&mut view, &records, request, entry)
                .inspect(|answer| {
                    records.add(&saga_id, &op, Some(answer.clone()));
                    kept.push((saga_id, op, answer.clone()));
                }),
        });
    }
    // Nothing reads what the batch writes before its commit: the writes go with the
    // COMMIT (on SQLite one hand-off for them all, on PostgreSQL one statement).
    tx.hold_writes();
    insert_records(tx, &kept).await?;
    plan.write(tx, view).await?;
    Ok(outcomes)
}

/// Every barrier record of `sagas` (a saga has a few at most).
async fn read_records(tx: &mut Tx, sagas: &[&str]) -> Result<Records, sqlx::Error> {
    let mut records = Records::default();
    if sagas.is_empty() {
        return Ok(records);
    }
    let sql = format!(
        "SELECT saga_id, op, response FROM saga_barrier WHERE saga_id IN ({})",
        db::placeholder_list(tx, sagas.len(), 1)
    );
    let rows = on_backend!(tx, conn => {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for saga in sagas {
            query = query.bind(*saga);
        }
        let rows = query.fetch_all(conn).await?;
        rows.iter()
            .map(|row| {
                use db::RowExt;
                Ok((row.text("saga_id")?, row.text("op")?, row.bytes("response")?))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?
    });
    for (saga_id, op, response) in rows {
        records.add(&saga_id, &op, response);
    }
    Ok(records)
}

/// Records the calls that took effect, with their answers, in one statement.
async fn insert_records(
    tx: &mut Tx,
    kept: &[(String, String, Vec<u8>)],
) -> Result<(), sqlx::Error> {
    if kept.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO saga_barrier (saga_id, op, response, created_at_ms) VALUES {}",
        db::placeholder_rows(tx, 4, kept.len(), 1)
    );
    let now_ms = db::now_ms();
    crate::write_later!(tx, sql.as_str(), values => {
        for (saga_id, op, response) in kept {
            values.bind(saga_id)?;
            values.bind(op)?;
            values.bind(response)?;
            values.bind(now_ms)?;
        }
    })
    .map(drop)
}

/// The plan of a writer that has none: no call can be planned.
#[derive(Debug)]
pub struct NoPlan;

impl WritePlan for NoPlan {
    type Request = Infallible;
    type Error = sqlx::Error;
    type View = ();

    fn step(request: &Infallible) -> Step<'_> {
        match *request {}
    }

    fn read<'t>(
        &'t self,
        _: &'t mut Tx,
        _: &'t [Infallible],
    ) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn decide(
        &self,
        _: &mut (),
        _: &Records,
        request: Infallible,
        _: Entry,
    ) -> Result<Vec<u8>, sqlx::Error> {
        match request {}
    }

    fn write<'t>(&'t self, _: &'t mut Tx, _: ()) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }
}
