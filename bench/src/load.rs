//! The load loops: a closed loop (a fixed number of calls in flight) and an open loop (a
//! fixed arrival rate, latency counted from each call's scheduled start), both stopping
//! after a count of calls or a duration, whichever comes first.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::{Bound, Pace};
use crate::latency::Recorder;
use crate::outcome::{Outcome, Outcomes};

/// One unit of load: the nth saga, or the nth direct-call sequence of the floor.
pub trait Operation: Send + Sync + 'static {
    /// Runs the nth unit to its end and says how it ended; never panics on a failed call.
    fn call(&self, n: u64) -> impl Future<Output = Outcome> + Send;
}

/// What the calls of one phase have recorded so far.
#[derive(Debug)]
pub struct Tally {
    /// Latency of every answered call.
    pub latency: Recorder,
    /// Latency of every failed call (under overload: how soon a refusal came).
    pub error_latency: Recorder,
    outcomes: Mutex<Outcomes>,
    done: AtomicU64,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Result<Self> {
        Ok(Self {
            latency: Recorder::new()?,
            error_latency: Recorder::new()?,
            outcomes: Mutex::default(),
            done: AtomicU64::new(0),
        })
    }

    /// Counts one finished call and its latency, apart for the failed ones.
    pub fn record(&self, outcome: &Outcome, latency: Duration) {
        match outcome.answered() {
            true => self.latency.record(latency),
            false => self.error_latency.record(latency),
        }
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(outcome);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Calls finished so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// The outcome counts so far.
    pub fn outcomes(&self) -> Outcomes {
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Runs `operation` with `pace` until `bound` and waits for the calls in flight; returns
/// the time from the first start to the last answer.
pub async fn drive<O: Operation>(
    operation: Arc<O>,
    pace: Pace,
    bound: Bound,
    tally: &Arc<Tally>,
) -> Result<Duration> {
    let stop = CancellationToken::new();
    let timer = bound.time().map(|duration| {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.cancel();
        })
    });
    let started = Instant::now();
    let mut limit = bound.sagas.unwrap_or(u64::MAX);
    if let (Pace::Open { rate, .. }, Some(duration)) = (pace, bound.duration) {
        // Exactly the calls scheduled before the end, not one that races the timer.
        limit = limit.min((rate * duration).ceil() as u64);
    }
    let result = match pace {
        Pace::Closed { concurrency } => closed(operation, concurrency, limit, &stop, tally).await,
        Pace::Open {
            rate,
            max_in_flight,
        } => open(operation, rate, max_in_flight, limit, &stop, tally).await,
    };
    if let Some(timer) = timer {
        timer.abort();
    }
    result.map(|()| started.elapsed())
}

/// How long a closed-loop worker waits after a refusal (RESOURCE_EXHAUSTED).
const REFUSED_PAUSE: Duration = Duration::from_millis(20);

/// `concurrency` workers, each starting its next call when the last one ends (or a
/// moment after, when it was refused).
async fn closed<O: Operation>(
    operation: Arc<O>,
    concurrency: u32,
    limit: u64,
    stop: &CancellationToken,
    tally: &Arc<Tally>,
) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (operation, next, stop, tally) =
            (operation.clone(), next.clone(), stop.clone(), tally.clone());
        workers.spawn(async move {
            while !stop.is_cancelled() {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let started = Instant::now();
                let outcome = operation.call(n).await;
                tally.record(&outcome, started.elapsed());
                if outcome.refused() {
                    // As a client's retry policy would: a refused worker that called
                    // again at once would only spin, spending the CPU being measured.
                    tokio::time::sleep(REFUSED_PAUSE).await;
                }
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.context("a load worker panicked")?;
    }
    Ok(())
}

/// Starts call n at `n / rate` seconds whatever the answers, at most `max_in_flight` at
/// once; each call's latency counts from its scheduled start.
async fn open<O: Operation>(
    operation: Arc<O>,
    rate: f64,
    max_in_flight: usize,
    limit: u64,
    stop: &CancellationToken,
    tally: &Arc<Tally>,
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let start = Instant::now();
    let mut calls = JoinSet::new();
    for n in 0..limit {
        #[allow(clippy::cast_precision_loss)]
        let scheduled = start + Duration::from_secs_f64(n as f64 / rate);
        // Biased: a call scheduled before the end starts even when the loop runs late and
        // the end has come meanwhile (the count of an open loop is exact).
        tokio::select! {
            biased;
            () = sleep_until(scheduled) => {}
            () = stop.cancelled() => break,
        }
        let permit = tokio::select! {
            biased;
            permit = permits.clone().acquire_owned() => permit.context("the call limit closed")?,
            () = stop.cancelled() => break,
        };
        let (operation, tally) = (operation.clone(), tally.clone());
        calls.spawn(async move {
            let outcome = operation.call(n).await;
            tally.record(&outcome, scheduled.elapsed());
            drop(permit);
        });
        while let Some(joined) = calls.try_join_next() {
            joined.context("a call task panicked")?;
        }
    }
    while let Some(joined) = calls.join_next().await {
        joined.context("a call task panicked")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers `Completed` after a fixed pause.
    struct Sleepy {
        pause: Duration,
        started: AtomicU64,
    }

    impl Operation for Sleepy {
        async fn call(&self, _n: u64) -> Outcome {
            self.started.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.pause).await;
            Outcome::Completed
        }
    }

    fn sleepy(ms: u64) -> Arc<Sleepy> {
        Arc::new(Sleepy {
            pause: Duration::from_millis(ms),
            started: AtomicU64::new(0),
        })
    }

    async fn run(pace: Pace, bound: Bound, op: Arc<Sleepy>) -> (Arc<Tally>, Duration) {
        let tally = Arc::new(Tally::new().expect("tally"));
        let elapsed = drive(op, pace, bound, &tally).await.expect("drive");
        (tally, elapsed)
    }

    #[tokio::test]
    async fn a_closed_loop_makes_exactly_the_calls_asked_for() {
        let op = sleepy(1);
        let bound = Bound {
            sagas: Some(37),
            duration: None,
        };
        let (tally, _) = run(Pace::Closed { concurrency: 4 }, bound, op.clone()).await;
        assert_eq!(op.started.load(Ordering::Relaxed), 37);
        assert_eq!(tally.done(), 37);
        assert_eq!(tally.outcomes().completed, 37);
        assert_eq!(tally.latency.summary().count, 37);
    }

    #[tokio::test]
    async fn an_open_loop_keeps_its_schedule_and_counts_latency_from_it() {
        let op = sleepy(20);
        let bound = Bound {
            sagas: Some(10),
            duration: None,
        };
        let pace = Pace::Open {
            rate: 1_000.0,
            max_in_flight: 1,
        };
        // One call at a time, each 20 ms, scheduled 1 ms apart: the last one waits for
        // the nine before it, and its latency shows that queueing.
        let (tally, elapsed) = run(pace, bound, op).await;
        assert_eq!(tally.done(), 10);
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(tally.latency.summary().max_ms >= 180.0);
    }

    #[tokio::test]
    async fn an_open_loop_for_a_duration_makes_the_calls_scheduled_within_it() {
        let op = sleepy(1);
        let bound = Bound {
            sagas: None,
            duration: Some(0.2),
        };
        let pace = Pace::Open {
            rate: 100.0,
            max_in_flight: 100,
        };
        let (tally, _) = run(pace, bound, op).await;
        assert_eq!(tally.done(), 20);
    }

    #[tokio::test]
    async fn a_duration_stops_new_calls_and_waits_for_those_in_flight() {
        let op = sleepy(10);
        let bound = Bound {
            sagas: None,
            duration: Some(0.1),
        };
        let (tally, elapsed) = run(Pace::Closed { concurrency: 2 }, bound, op.clone()).await;
        let started = op.started.load(Ordering::Relaxed);
        assert_eq!(tally.done(), started);
        assert!((2..=40).contains(&started), "{started}");
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    }
}
