//! Time and randomness, reached through one handle each so the engine can later run
//! under a seeded simulator and replay a failure from its seed.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The engine's one source of randomness (saga ids, backoff jitter), seeded.
#[derive(Debug)]
pub struct Entropy(Mutex<StdRng>);

impl Entropy {
    pub fn seeded(seed: u64) -> Self {
        Self(Mutex::new(StdRng::seed_from_u64(seed)))
    }

    /// A unique id in UUID v7 form: the time `now_ms`, then 74 seeded random bits. The
    /// time part keeps ids unique across restarts that reuse a seed (the random part
    /// then repeats), and keeps new rows at the end of the index.
    pub fn new_id(&self, now_ms: i64) -> String {
        let random: [u8; 10] = self.with(|rng| rng.random());
        let millis = u64::try_from(now_ms).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .to_string()
    }

    /// A uniform draw from `[0, 1]`: a retry's jitter.
    pub fn jitter(&self) -> f64 {
        self.with(|rng| rng.random_range(0.0..=1.0))
    }

    fn with<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_at_another_time_draws_other_ids() {
        let (first, restarted) = (Entropy::seeded(7), Entropy::seeded(7));
        let before: Vec<_> = (0..3).map(|_| first.new_id(1_000)).collect();
        let after: Vec<_> = (0..3).map(|_| restarted.new_id(1_050)).collect();
        assert!(
            before.iter().all(|id| !after.contains(id)),
            "{before:?} {after:?}"
        );
        let again = Entropy::seeded(7);
        assert_eq!(
            again.new_id(1_000),
            before[0],
            "a seed replays its ids at the same time"
        );
    }
}
