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

    /// A random-looking, unique id in UUID v4 form.
    pub fn new_id(&self) -> String {
        let bytes: [u8; 16] = self.with(|rng| rng.random());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A uniform draw from `0..=max`.
    pub fn up_to(&self, max: u64) -> u64 {
        self.with(|rng| rng.random_range(0..=max))
    }

    fn with<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut rng)
    }
}
