//! The progress line on stderr while a phase runs: once a second, the calls done, the rate
//! over the last second, the median latency so far and the errors.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::load::Tally;

/// Prints progress until dropped.
#[derive(Debug)]
pub struct Progress(Option<JoinHandle<()>>);

impl Progress {
    /// Starts printing `phase`'s progress each second (nothing when `quiet`); `expected`
    /// is the number of calls the phase will make, when known.
    pub fn start(
        phase: &'static str,
        tally: Arc<Tally>,
        expected: Option<u64>,
        quiet: bool,
    ) -> Self {
        if quiet {
            return Self(None);
        }
        Self(Some(tokio::spawn(async move {
            let started = Instant::now();
            let mut ticks =
                tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut last = (started, 0);
            loop {
                let now = ticks.tick().await;
                let done = tally.done();
                let rate = per_second(done - last.1, now - last.0);
                last = (now, done);
                eprintln!(
                    "{}",
                    line(phase, now - started, done, expected, rate, &tally)
                );
            }
        })))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

fn line(
    phase: &str,
    elapsed: Duration,
    done: u64,
    expected: Option<u64>,
    rate: f64,
    tally: &Tally,
) -> String {
    let of = expected.map(|e| format!("/{e}")).unwrap_or_default();
    let p50 = tally.latency.median().map_or_else(
        || "-".to_string(),
        |d| format!("{:.2} ms", d.as_secs_f64() * 1e3),
    );
    format!(
        "[{phase}] {:>6.1} s  done {done}{of}  {rate:.0}/s  p50 {p50}  errors {}",
        elapsed.as_secs_f64(),
        tally.outcomes().error_count()
    )
}

fn per_second(count: u64, over: Duration) -> f64 {
    let seconds = over.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let count = count as f64;
    if seconds > 0.0 { count / seconds } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    #[test]
    fn the_line_shows_done_rate_median_and_errors() {
        let tally = Tally::new().expect("tally");
        tally.record(&Outcome::Completed, Duration::from_millis(4));
        tally.record(
            &Outcome::Error("Unavailable".into()),
            Duration::from_millis(9),
        );
        let text = line("saga", Duration::from_secs(3), 2, Some(10), 2.0, &tally);
        assert_eq!(
            text,
            "[saga]    3.0 s  done 2/10  2/s  p50 4.00 ms  errors 1"
        );
    }
}
