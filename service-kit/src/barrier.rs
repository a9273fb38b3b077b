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
//! Use, in a new participant: add the `saga_barrier` table of `migrations/orders` to your
//! schema, then per call:
//!
//! ```text
//! let mut tx = db::begin_write(&pool).await?;
//! match barrier::enter(&mut tx, &step).await? {
//!     Entry::Repeat(first) => return decode(first),
//!     Entry::AlreadyCompensated => return Err(FAILED_PRECONDITION),
//!     Entry::NothingToUndo => { barrier::finish(&mut tx, &step, &tombstone).await?; tx.commit() }
//!     Entry::First => { do the effect; barrier::finish(&mut tx, &step, &answer).await?; tx.commit() }
//! }
//! ```
//! Take the transaction with [`crate::db::begin_write`] so concurrent repeats queue
//! behind the first instead of racing it.

use sqlx::SqliteConnection;

/// What a step is to the saga: an action (maybe undone by a compensation) or the
/// compensation of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Action { undone_by: Option<&'static str> },
    Compensation { undoes: &'static str },
}

/// One operation of one saga at a participant, e.g. (`s-123`, `create_order`).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub saga_id: &'a str,
    pub op: &'static str,
    pub role: Role,
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

/// Claims `step` inside the caller's write transaction and says what to do.
pub async fn enter(tx: &mut SqliteConnection, step: &Step<'_>) -> Result<Entry, sqlx::Error> {
    let claimed = sqlx::query(
        "INSERT INTO saga_barrier (saga_id, op, response, created_at_ms)
         VALUES (?, ?, NULL, CAST(unixepoch('subsec') * 1000 AS INTEGER))
         ON CONFLICT (saga_id, op) DO NOTHING",
    )
    .bind(step.saga_id)
    .bind(step.op)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        let first: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT response FROM saga_barrier WHERE saga_id = ? AND op = ?")
                .bind(step.saga_id)
                .bind(step.op)
                .fetch_one(&mut *tx)
                .await?;
        return Ok(Entry::Repeat(first.unwrap_or_default()));
    }
    match step.role {
        Role::Action { undone_by: None } => Ok(Entry::First),
        Role::Action {
            undone_by: Some(compensation),
        } => Ok(if recorded(tx, step.saga_id, compensation).await? {
            Entry::AlreadyCompensated
        } else {
            Entry::First
        }),
        Role::Compensation { undoes } => Ok(if recorded(tx, step.saga_id, undoes).await? {
            Entry::First
        } else {
            Entry::NothingToUndo
        }),
    }
}

/// Records the answer to `step`, to be returned to every repeat.
pub async fn finish(
    tx: &mut SqliteConnection,
    step: &Step<'_>,
    response: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE saga_barrier SET response = ? WHERE saga_id = ? AND op = ?")
        .bind(response)
        .bind(step.saga_id)
        .bind(step.op)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn recorded(tx: &mut SqliteConnection, saga_id: &str, op: &str) -> Result<bool, sqlx::Error> {
    let row: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM saga_barrier WHERE saga_id = ? AND op = ?")
            .bind(saga_id)
            .bind(op)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::begin_write;
    use sqlx::SqlitePool;

    const CREATE: Step = Step {
        saga_id: "s1",
        op: "create",
        role: Role::Action {
            undone_by: Some("cancel"),
        },
    };
    const CANCEL: Step = Step {
        saga_id: "s1",
        op: "cancel",
        role: Role::Compensation { undoes: "create" },
    };

    async fn pool() -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        let migrator = sqlx::migrate!("../migrations/orders");
        let pool = crate::db::open_sqlite(&url, &migrator).await.expect("open");
        (dir, pool)
    }

    async fn run(pool: &SqlitePool, step: &Step<'_>, answer: &[u8]) -> Entry {
        let mut tx = begin_write(pool).await.expect("begin");
        let entry = enter(&mut tx, step).await.expect("enter");
        if matches!(entry, Entry::First | Entry::NothingToUndo) {
            finish(&mut tx, step, answer).await.expect("finish");
        }
        tx.commit().await.expect("commit");
        entry
    }

    #[tokio::test]
    async fn a_repeat_gets_the_first_answer() {
        let (_dir, pool) = pool().await;
        assert_eq!(run(&pool, &CREATE, b"first").await, Entry::First);
        assert_eq!(
            run(&pool, &CREATE, b"second").await,
            Entry::Repeat(b"first".to_vec())
        );
    }

    #[tokio::test]
    async fn a_compensation_without_its_action_leaves_a_tombstone_that_refuses_the_action() {
        let (_dir, pool) = pool().await;
        assert_eq!(run(&pool, &CANCEL, b"none").await, Entry::NothingToUndo);
        assert_eq!(
            run(&pool, &CREATE, b"late").await,
            Entry::AlreadyCompensated
        );
        assert_eq!(
            run(&pool, &CANCEL, b"again").await,
            Entry::Repeat(b"none".to_vec())
        );
    }

    #[tokio::test]
    async fn a_compensation_after_its_action_undoes_it() {
        let (_dir, pool) = pool().await;
        assert_eq!(run(&pool, &CREATE, b"made").await, Entry::First);
        assert_eq!(run(&pool, &CANCEL, b"undone").await, Entry::First);
        assert_eq!(
            run(&pool, &CREATE, b"x").await,
            Entry::Repeat(b"made".to_vec())
        );
    }

    #[tokio::test]
    async fn a_rolled_back_call_leaves_no_record() {
        let (_dir, pool) = pool().await;
        let mut tx = begin_write(&pool).await.expect("begin");
        assert_eq!(enter(&mut tx, &CREATE).await.expect("enter"), Entry::First);
        tx.rollback().await.expect("rollback");
        assert_eq!(run(&pool, &CREATE, b"made").await, Entry::First);
    }

    #[tokio::test]
    async fn concurrent_repeats_take_effect_once() {
        let (_dir, pool) = pool().await;
        let calls = (0..8).map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { run(&pool, &CREATE, format!("{i}").as_bytes()).await })
        });
        let mut firsts = 0;
        for call in calls {
            if call.await.expect("join") == Entry::First {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 1);
    }
}
