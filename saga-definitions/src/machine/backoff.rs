//! How long a failed call waits before it is tried again: exponential backoff with
//! "equal jitter", decided with the rest of the transition so that the time of the next
//! attempt is part of the durable state (operators see it; a restart keeps it).

use crate::model::Retry;

/// `base · 2^(attempt-1)`, capped at `max`, of which a random half is waited: retries
/// spread out but never come back at once. A parked call waits about `parked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base_ms: u64,
    pub max_ms: u64,
    /// The pace of a parked call's retries.
    pub parked_ms: u64,
}

impl Backoff {
    /// This backoff with a step's own limits, where it sets them.
    pub fn for_step(&self, retry: &Retry) -> Backoff {
        Backoff {
            base_ms: retry.initial_backoff_ms.map_or(self.base_ms, u64::from),
            max_ms: retry.max_backoff_ms.map_or(self.max_ms, u64::from),
            parked_ms: self.parked_ms,
        }
    }

    /// The wait after failed attempt `attempt` (1-based); `jitter` is a draw from
    /// `[0, 1]`.
    pub fn delay_ms(&self, attempt: u32, jitter: f64) -> u64 {
        equal_jitter(self.ceiling_ms(attempt), jitter)
    }

    /// The wait between retries of a parked call.
    pub fn parked_delay_ms(&self, jitter: f64) -> u64 {
        equal_jitter(self.parked_ms, jitter)
    }

    fn ceiling_ms(&self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(1).min(30);
        self.base_ms.saturating_mul(1 << doublings).min(self.max_ms)
    }
}

/// Half of `ceiling`, plus `jitter` of the other half.
fn equal_jitter(ceiling: u64, jitter: f64) -> u64 {
    let half = ceiling / 2;
    // Exact in f64 for any wait shorter than 2^53 ms.
    half + (half as f64 * jitter.clamp(0.0, 1.0)).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stay_within_the_jitter_band() {
        let backoff = Backoff {
            base_ms: 10,
            max_ms: 100,
            parked_ms: 60_000,
        };
        for (attempt, ceiling) in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (60, 100)] {
            assert_eq!(backoff.ceiling_ms(attempt), ceiling);
            assert_eq!(backoff.delay_ms(attempt, 0.0), ceiling / 2);
            assert_eq!(backoff.delay_ms(attempt, 1.0), ceiling / 2 * 2);
            let middle = backoff.delay_ms(attempt, 0.5);
            assert!(
                (ceiling / 2..=ceiling).contains(&middle),
                "{attempt}: {middle}"
            );
        }
        assert_eq!(backoff.parked_delay_ms(0.5), 45_000);
    }

    #[test]
    fn a_steps_own_limits_replace_the_defaults() {
        let backoff = Backoff {
            base_ms: 10,
            max_ms: 100,
            parked_ms: 60_000,
        };
        let retry = Retry {
            initial_backoff_ms: Some(7),
            max_backoff_ms: Some(50),
            ..Retry::default()
        };
        let own = backoff.for_step(&retry);
        assert_eq!((own.base_ms, own.max_ms, own.parked_ms), (7, 50, 60_000));
    }
}
