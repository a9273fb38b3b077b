//! Call latencies in an HDR histogram (microseconds, three significant digits), shared
//! by the calls of a phase and read by the progress line while they run.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency the histogram tells apart (larger ones are recorded as this).
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// A histogram many tasks record into.
#[derive(Debug)]
pub struct Recorder {
    histogram: Mutex<Histogram<u64>>,
}

/// Percentiles of a phase's latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Result<Self> {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_MICROS, 3)
            .context("cannot create the latency histogram")?;
        Ok(Self {
            histogram: Mutex::new(histogram),
        })
    }

    /// Records one call's latency.
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.lock().saturating_record(micros.max(1));
    }

    /// The median so far, if anything was recorded.
    pub fn median(&self) -> Option<Duration> {
        let histogram = self.lock();
        (!histogram.is_empty()).then(|| Duration::from_micros(histogram.value_at_quantile(0.5)))
    }

    /// The percentiles of everything recorded.
    pub fn summary(&self) -> Latency {
        let histogram = self.lock();
        let ms = |micros: u64| micros as f64 / 1_000.0;
        Latency {
            count: histogram.len(),
            mean_ms: histogram.mean() / 1_000.0,
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p90_ms: ms(histogram.value_at_quantile(0.9)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p99_9_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Histogram<u64>> {
        self.histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded() {
        let recorder = Recorder::new().expect("histogram");
        assert_eq!(recorder.median(), None);
        for ms in 1..=1_000 {
            recorder.record(Duration::from_millis(ms));
        }
        let summary = recorder.summary();
        assert_eq!(summary.count, 1_000);
        // Three significant digits: within 0.1 % of the exact value.
        for (got, want) in [
            (summary.p50_ms, 500.0),
            (summary.p90_ms, 900.0),
            (summary.p99_ms, 990.0),
            (summary.p99_9_ms, 999.0),
            (summary.max_ms, 1_000.0),
        ] {
            assert!((got - want).abs() <= want * 0.001, "{got} vs {want}");
        }
        let median = recorder.median().expect("median").as_secs_f64();
        assert!((median - 0.5).abs() < 0.001, "{median}");
    }

    #[test]
    fn an_empty_summary_is_all_zero() {
        let summary = Recorder::new().expect("histogram").summary();
        assert_eq!(summary.count, 0);
        assert_eq!(summary.max_ms, 0.0);
    }
}
