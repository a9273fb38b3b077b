//! The loop of a group writer: batches of waiting jobs, one after another. A panic in a
//! batch (a bug) is caught and costs that batch, not the writer: without that, a
//! panicking writer would drop its queue, and every later write would fail or, retried
//! as if the database were down, hang. Each batch's size and time go to the metrics
//! `db_commit_batch_size` and `db_commit_duration_seconds`.
//!
//! A batch runs inside the loop's own task rather than a task of its own: a spawned task
//! waits its turn behind every task queued on the worker, and the loop then waits to be
//! woken by its end, two trips through the scheduler per commit on the writer's path.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::sync::mpsc;

use crate::metrics::{COMMIT_BATCH, COMMIT_SECONDS};

/// Takes the jobs waiting in `queue`, up to `max_batch` at a time, and runs each batch
/// with `run`, one batch after another, until every sender is gone. A batch that panics
/// is logged and dropped: its callers find their reply channels closed (an error they
/// handle as a lost reply), and the next batch runs as usual.
pub async fn run_batches<J, F, Fut>(mut queue: mpsc::Receiver<J>, max_batch: usize, run: F)
where
    F: Fn(Vec<J>) -> Fut,
    Fut: Future<Output = ()>,
{
    let max_batch = max_batch.max(1);
    let mut batch = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut batch, max_batch).await > 0 {
        let size = batch.len();
        let started = std::time::Instant::now();
        // The batch owns its jobs and the loop keeps nothing of it: nothing is seen
        // half-changed after a panic.
        match AssertUnwindSafe(run(std::mem::take(&mut batch)))
            .catch_unwind()
            .await
        {
            Ok(()) => {
                metrics::histogram!(COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
                metrics::histogram!(COMMIT_BATCH).record(size as f64);
            }
            Err(panic) => {
                let error = panic_message(&*panic);
                tracing::error!(%error, writes = size, "a group writer's batch panicked; its writes were not committed, the writer goes on");
            }
        }
    }
}

/// What a caught panic said, when it said it as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn a_batch_that_panics_fails_its_callers_and_the_next_batch_runs() {
        let (jobs, queue) = mpsc::channel::<(bool, oneshot::Sender<()>)>(8);
        tokio::spawn(run_batches(queue, 1, |batch| async move {
            for (panics, reply) in batch {
                assert!(!panics, "a bug in a batch");
                let _ = reply.send(());
            }
        }));
        let (reply, lost) = oneshot::channel();
        jobs.send((true, reply)).await.expect("queued");
        assert!(
            lost.await.is_err(),
            "the panicked batch's caller sees no answer"
        );
        let (reply, answered) = oneshot::channel();
        jobs.send((false, reply))
            .await
            .expect("the writer still takes jobs");
        assert_eq!(answered.await, Ok(()));
    }
}
