//! Group commit: concurrent requests share commits, and a failing one is undone alone.

use super::*;
use crate::barrier::{self, Entry, Step, StepKind};
use crate::testing::{databases, orders_migrations};

fn step(saga_id: &str) -> Step<'_> {
    Step {
        saga_id,
        op: "create",
        kind: StepKind::Action { undone_by: None },
    }
}

/// Records the barrier entry of saga `id`, then fails if `fail` (after writing).
async fn record(tx: &mut Tx, id: String, fail: bool) -> Result<(), sqlx::Error> {
    let step = step(&id);
    assert_eq!(barrier::enter(tx, &step).await?, Entry::First);
    barrier::finish(tx, &step, id.as_bytes()).await?;
    match fail {
        true => Err(sqlx::Error::RowNotFound),
        false => Ok(()),
    }
}

#[tokio::test]
async fn concurrent_writes_commit_together_and_a_failing_one_is_undone_alone() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let writer = GroupWriter::start(db.clone(), 64);
        let requests = (0..40).map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let id = format!("s{i}");
                writer
                    .write(move |tx| Box::pin(record(tx, id, i == 13)))
                    .await
            })
        });
        for (i, request) in requests.enumerate() {
            let answered = request.await.expect("join");
            assert_eq!(answered.is_ok(), i != 13, "s{i}: {answered:?}");
        }
        for i in 0..40 {
            let writer = writer.clone();
            let id = format!("s{i}");
            let again = writer
                .write(move |tx| {
                    Box::pin(async move {
                        let entry = barrier::enter(tx, &step(&id)).await?;
                        Ok::<_, sqlx::Error>(entry)
                    })
                })
                .await
                .expect("read back");
            match i {
                13 => assert_eq!(again, Entry::First, "the failed write left nothing"),
                _ => assert_eq!(again, Entry::Repeat(format!("s{i}").into_bytes())),
            }
        }
    }
}

#[tokio::test]
async fn a_lone_write_that_fails_leaves_nothing_and_answers_its_own_error() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let writer = GroupWriter::start(db.clone(), 64);
        let failed = writer
            .write(|tx| Box::pin(record(tx, "alone".into(), true)))
            .await;
        assert!(
            matches!(failed, Err(sqlx::Error::RowNotFound)),
            "{failed:?}"
        );
        let kept = writer
            .write(|tx| Box::pin(record(tx, "kept".into(), false)))
            .await;
        assert!(kept.is_ok(), "{kept:?}");
        let entries = writer
            .write(|tx| {
                Box::pin(async move {
                    let alone = barrier::enter(tx, &step("alone")).await?;
                    let kept = barrier::enter(tx, &step("kept")).await?;
                    Ok::<_, sqlx::Error>((alone, kept))
                })
            })
            .await
            .expect("read back");
        assert_eq!(entries, (Entry::First, Entry::Repeat(b"kept".to_vec())));
    }
}

#[tokio::test]
async fn a_request_body_that_panics_fails_its_request_and_the_writer_goes_on() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let writer = GroupWriter::start(db.clone(), 64);
        let panicked = writer
            .write(|_tx| -> TxFuture<'_, Result<(), sqlx::Error>> {
                Box::pin(async { panic!("a bug in a request body") })
            })
            .await;
        assert!(panicked.is_err(), "{panicked:?}");
        let id = "after".to_string();
        let next = writer
            .write(move |tx| Box::pin(record(tx, id, false)))
            .await;
        assert!(next.is_ok(), "the writer still serves: {next:?}");
    }
}
