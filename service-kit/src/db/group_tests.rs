//! Group commit: concurrent requests share commits, and a failing one is undone alone.

use std::pin::Pin;
use std::task::Poll;

use tokio::sync::oneshot;

use super::*;
use crate::barrier::{self, Entry, Step, StepKind};
use crate::testing::{databases, orders_migrations};
use crate::write_plan::{Records, WritePlan};

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

/// A plan that only records its calls: a call is its saga id, answered with it; the
/// saga `refused` is refused. A `stale` one finds at its write that a row it read has
/// changed since, which fails the batch's check.
#[derive(Default)]
struct Recording {
    stale: bool,
}

impl WritePlan for Recording {
    type Request = String;
    type Error = sqlx::Error;
    type View = ();

    fn step(saga_id: &String) -> Step<'_> {
        step(saga_id)
    }

    fn read<'t>(&'t self, _: &'t mut Tx, _: &'t [String]) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn decide(
        &self,
        _: &mut (),
        _: &Records,
        saga_id: String,
        entry: Entry,
    ) -> Result<Vec<u8>, sqlx::Error> {
        assert_eq!(entry, Entry::First, "repeats never reach the plan");
        match saga_id.as_str() {
            "refused" => Err(sqlx::Error::RowNotFound),
            _ => Ok(saga_id.into_bytes()),
        }
    }

    fn write<'t>(&'t self, tx: &'t mut Tx, _: ()) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async move {
            if !self.stale {
                return Ok(());
            }
            let sql = format!(
                "UPDATE saga_barrier SET created_at_ms = 0 WHERE saga_id = {}",
                placeholder(tx, 1)
            );
            let written = crate::write_later!(tx, sql.as_str(), values => {
                values.bind("no such saga")?;
            })?;
            tx.require_changes(written, 1)
        })
    }
}

#[tokio::test]
async fn planned_calls_and_bodies_on_one_writer_all_commit_and_a_refused_call_records_nothing() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let writer = GroupWriter::with_plan(db.clone(), 64, Recording::default());
        let calls = (0..40).map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let id = match i {
                    12 => "refused".to_string(),
                    _ => format!("s{i}"),
                };
                match i % 2 {
                    0 => writer.planned(id).await.map(|_| ()),
                    _ => {
                        writer
                            .write(move |tx| Box::pin(record(tx, id, false)))
                            .await
                    }
                }
            })
        });
        for (i, call) in calls.enumerate() {
            let answered = call.await.expect("join");
            assert_eq!(answered.is_ok(), i != 12, "s{i}: {answered:?}");
        }
        for i in (0..40).filter(|i| *i != 12) {
            let id = format!("s{i}");
            let again = writer.planned(id.clone()).await.expect("a repeat");
            assert_eq!(again, id.into_bytes(), "the first answer, replayed");
        }
        let refused = writer
            .write(|tx| Box::pin(async move { barrier::enter(tx, &step("refused")).await }))
            .await
            .expect("read back");
        assert_eq!(refused, Entry::First, "the refused call left nothing");
    }
}

/// Polls `future` once: far enough for a writer's call to queue its job, which it does
/// before awaiting the answer.
async fn queue<F: Future>(future: Pin<&mut F>) {
    let mut future = future;
    std::future::poll_fn(|cx| {
        let _ = future.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
}

#[tokio::test]
async fn a_body_in_the_batch_of_a_planned_call_sees_what_the_plan_wrote() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let writer = GroupWriter::with_plan(db.clone(), 64, Recording::default());
        let (holding, go) = hold(&writer).await;
        let mut planned = std::pin::pin!(writer.planned("s1".to_string()));
        queue(planned.as_mut()).await;
        let mut body = std::pin::pin!(
            writer.write(|tx| { Box::pin(async move { barrier::enter(tx, &step("s1")).await }) })
        );
        queue(body.as_mut()).await;
        go.send(()).expect("the first batch waits");
        holding.await.expect("join").expect("the first batch");
        assert_eq!(planned.await.expect("planned"), b"s1".to_vec());
        assert_eq!(
            body.await.expect("body"),
            Entry::Repeat(b"s1".to_vec()),
            "the body saw the planned call's record"
        );
    }
}

/// A lone body that holds `writer` until `go` is sent, so that the jobs queued meanwhile
/// make one batch; it answers through the handle.
async fn hold(
    writer: &GroupWriter<Recording>,
) -> (
    tokio::task::JoinHandle<Result<(), sqlx::Error>>,
    oneshot::Sender<()>,
) {
    let (started, running) = oneshot::channel();
    let (go, gate) = oneshot::channel::<()>();
    let holding = tokio::spawn({
        let writer = writer.clone();
        async move {
            writer
                .write(move |_| {
                    Box::pin(async move {
                        let _ = started.send(());
                        let _ = gate.await;
                        Ok::<_, sqlx::Error>(())
                    })
                })
                .await
        }
    });
    running.await.expect("the first batch runs");
    (holding, go)
}

#[tokio::test]
async fn a_plan_that_fails_its_check_fails_its_calls_and_the_bodies_of_its_batch_commit() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let writer = GroupWriter::with_plan(db.clone(), 64, Recording { stale: true });
        let (holding, go) = hold(&writer).await;
        let mut planned = std::pin::pin!(writer.planned("s1".to_string()));
        queue(planned.as_mut()).await;
        let mut body =
            std::pin::pin!(writer.write(|tx| Box::pin(record(tx, "b1".to_string(), false))));
        queue(body.as_mut()).await;
        go.send(()).expect("the first batch waits");
        holding.await.expect("join").expect("the first batch");
        assert!(planned.await.is_err(), "the stale plan's call fails");
        body.await.expect("the body commits on its own");
        let entries = writer
            .write(|tx| {
                Box::pin(async move {
                    let planned = barrier::enter(tx, &step("s1")).await?;
                    let body = barrier::enter(tx, &step("b1")).await?;
                    Ok::<_, sqlx::Error>((planned, body))
                })
            })
            .await
            .expect("read back");
        assert_eq!(entries.0, Entry::First, "the failed call recorded nothing");
        assert_eq!(
            entries.1,
            Entry::Repeat(b"b1".to_vec()),
            "the body's record"
        );
    }
}
