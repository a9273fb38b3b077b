//! The participant-side idempotency barrier (DTM calls it a barrier).
//!
//! Every mutating call of a participant names its saga; the barrier records each
//! (saga, operation) in the participant's own database, inside the same transaction as
//! the call's effect, and answers the three questions a saga participant must:
//!
//! - a **repeat** of a call (a retry after a timeout) gets the first answer back and has
//!   no second effect;
//! - a **compensation whose action never arrived** does nothing, succeeds, and leaves a
//!   tombstone;
//! - an **action that arrives after its compensation** (a late retry) is refused, so a
//!   cancelled order is never resurrected.
//!
//! Use, in a new participant: add the `saga_barrier` table of `migrations/sqlite/orders`
//! and `migrations/postgres/orders` to your schema, then per call:
//!
//! ```text
//! writer.write(move |tx| Box::pin(async move {
//!     match barrier::enter(tx, &step).await? {
//!         Entry::Repeat(first) => decode(first),
//!         Entry::AlreadyCompensated => Err(FAILED_PRECONDITION),
//!         Entry::NothingToUndo => { barrier::finish(tx, &step, &tombstone).await?; Ok(tombstone) }
//!         Entry::First => { do the effect; barrier::finish(tx, &step, &answer).await?; Ok(answer) }
//!     }
//! })).await
//! ```
//! Run the call in a write transaction ([`crate::db::GroupWriter::write`], which shares
//! commits between concurrent calls, or [`crate::db::Db::begin_write`]) and call [`enter`] before
//! anything else in it: the calls of one saga then run one after the other (SQLite runs
//! one writer at a time; on PostgreSQL `enter` takes a lock on the saga until the
//! transaction ends), so concurrent repeats queue behind the first instead of racing it,
//! an action and its compensation always see each other's record, and what the call
//! reads of the saga's own state stays true until it commits.
//!
//! Or decide the calls of a batch together, with one read and one write per table for
//! all of them: [`crate::write_plan`], which applies the same rule ([`entry_of`]).

use crate::db::{self, RowExt, Tx};
use crate::on_backend;

/// What a step is to the saga: an action (maybe undone by a compensation) or the
/// compensation of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind<'a> {
    Action { undone_by: Option<&'a str> },
    Compensation { undoes: &'a str },
}

/// One operation of one saga at a participant, e.g. (`s-123`, `create_order`). A
/// participant the orchestrator calls for any definition keys it on the call's saga
/// metadata instead: [`crate::saga_call::SagaCall::barrier_step`].
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub saga_id: &'a str,
    pub op: &'a str,
    pub kind: StepKind<'a>,
}

/// What the participant must do with a call.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// First arrival: perform the effect, then [`finish`] in the same transaction.
    First,
    /// A repeat: the first answer, as it was recorded.
    Repeat(Vec<u8>),
    /// An action that arrived after its compensation: refuse it.
    AlreadyCompensated,
    /// A compensation whose action never arrived: do nothing, [`finish`] with the
    /// answer for "nothing to undo"; the record is the tombstone.
    NothingToUndo,
}

/// Reads `step`'s record and its counterpart's inside the caller's write transaction
/// and says what to do. Nothing is written until [`finish`].
pub async fn enter(tx: &mut Tx, step: &Step<'_>) -> Result<Entry, sqlx::Error> {
    queue_behind_the_saga(tx, step.saga_id).await?;
    let counterpart = counterpart(step).unwrap_or(step.op);
    let records = records(tx, step.saga_id, step.op, counterpart).await?;
    let entry = entry_of(step, &records);
    count(&entry);
    Ok(entry)
}

/// The operation that undoes `step`, or that `step` undoes.
fn counterpart<'a>(step: &Step<'a>) -> Option<&'a str> {
    match step.kind {
        StepKind::Action { undone_by } => undone_by,
        StepKind::Compensation { undoes } => Some(undoes),
    }
}

/// One saga's records at this participant: each operation's name and recorded answer.
pub type Record = (String, Option<Vec<u8>>);

/// What to do with `step`, given its saga's records (at least those of its operation and
/// of its counterpart): the barrier's whole rule, without IO.
pub fn entry_of(step: &Step<'_>, records: &[Record]) -> Entry {
    let answer_of = |op: &str| records.iter().find(|(o, _)| o == op).map(|(_, r)| r);
    if let Some(first) = answer_of(step.op) {
        return Entry::Repeat(first.clone().unwrap_or_default());
    }
    let counterpart_seen = counterpart(step).is_some_and(|op| answer_of(op).is_some());
    match (step.kind, counterpart_seen) {
        (StepKind::Action { .. }, true) => Entry::AlreadyCompensated,
        (StepKind::Compensation { .. }, false) => Entry::NothingToUndo,
        _ => Entry::First,
    }
}

/// Counts `entry` when the barrier answers it without the call's effect.
pub(crate) fn count(entry: &Entry) {
    match entry {
        Entry::Repeat(_) => count_hit("repeat"),
        Entry::AlreadyCompensated => count_hit("late_action"),
        Entry::NothingToUndo => count_hit("tombstone"),
        Entry::First => {}
    }
}

/// Counts a call the barrier answered without its effect (a transaction that is then
/// retried alone after its group's commit failed counts twice).
fn count_hit(hit: &'static str) {
    metrics::counter!(crate::metrics::BARRIER_HITS, "hit" => hit).increment(1);
}

/// Records `step` with its answer, to be returned to every repeat (or, for a
/// compensation that found nothing to undo, as the tombstone that refuses its action).
pub async fn finish(tx: &mut Tx, step: &Step<'_>, response: &[u8]) -> Result<(), sqlx::Error> {
    on_backend!(tx, conn => sqlx::query(
        "INSERT INTO saga_barrier (saga_id, op, response, created_at_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(step.saga_id)
    .bind(step.op)
    .bind(response)
    .bind(db::now_ms())
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Makes the calls of one saga wait for each other's transactions. SQLite's write
/// transactions already run one at a time (`BEGIN IMMEDIATE`); PostgreSQL runs writers
/// side by side, so there a transaction-scoped advisory lock on the saga does it.
/// Without it an action and its compensation racing each other could both miss the
/// other's record: the action would take effect and the compensation leave a tombstone.
async fn queue_behind_the_saga(tx: &mut Tx, saga_id: &str) -> Result<(), sqlx::Error> {
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key(saga_id))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The saga's lock: a 64-bit FNV-1a hash of its id, the same in every process and Rust
/// version, so replicas sharing a database agree. Two sagas that share a key only queue.
pub(crate) fn lock_key(saga_id: &str) -> i64 {
    let hash = saga_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    i64::from_le_bytes(hash.to_le_bytes())
}

/// The records of the saga's operations `op` and `other` (which may be the same): each
/// operation's name and recorded answer.
async fn records(
    tx: &mut Tx,
    saga_id: &str,
    op: &str,
    other: &str,
) -> Result<Vec<Record>, sqlx::Error> {
    on_backend!(tx, conn => {
        let rows = sqlx::query(
            "SELECT op, response FROM saga_barrier WHERE saga_id = $1 AND op IN ($2, $3)",
        )
        .bind(saga_id)
        .bind(op)
        .bind(other)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| Ok((row.text("op")?, row.bytes("response")?)))
            .collect()
    })
}

#[cfg(test)]
#[path = "barrier_tests.rs"]
mod tests;
