//! Exponential backoff with jitter between attempts of a step.

use std::time::Duration;

use saga_definitions::Retry;

use super::clock::Entropy;

/// `base · 2^(attempt-1)`, capped at `max`, of which a random half is waited
/// ("equal jitter"): retries spread out but never come back at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// The pace of a parked step's retries.
    pub parked: Duration,
}

impl Backoff {
    /// This backoff with a step's own limits, where it sets them.
    pub fn for_step(&self, retry: &Retry) -> Backoff {
        let ms = |value: Option<u32>, default: Duration| {
            value.map_or(default, |ms| Duration::from_millis(ms.into()))
        };
        Backoff {
            base: ms(retry.initial_backoff_ms, self.base),
            max: ms(retry.max_backoff_ms, self.max),
            parked: self.parked,
        }
    }

    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32, entropy: &Entropy) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = u64::try_from(ceiling.as_millis() / 2).unwrap_or(u64::MAX);
        Duration::from_millis(half + entropy.up_to(half))
    }

    /// The wait between retries of a parked step.
    pub fn parked_delay(&self, entropy: &Entropy) -> Duration {
        let half = u64::try_from(self.parked.as_millis() / 2).unwrap_or(u64::MAX);
        Duration::from_millis(half + entropy.up_to(half))
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stay_within_the_jitter_band() {
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            parked: Duration::from_secs(60),
        };
        let entropy = Entropy::seeded(3);
        for (attempt, ceiling) in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (60, 100)] {
            assert_eq!(backoff.ceiling(attempt), Duration::from_millis(ceiling));
            for _ in 0..50 {
                let d = backoff.delay(attempt, &entropy).as_millis() as u64;
                assert!((ceiling / 2..=ceiling).contains(&d), "{attempt}: {d}");
            }
        }
    }
}
