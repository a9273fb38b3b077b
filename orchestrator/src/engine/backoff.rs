//! The engine's own pauses between tries of infrastructure work (a saga-log write, a
//! claim): the same exponential backoff with jitter as a saga's retries, whose waits the
//! state machine decides.

use std::time::Duration;

use saga_definitions::machine::Backoff;

use super::clock::Entropy;

/// The wait before try `attempt + 1` of something that failed `attempt` times.
pub fn delay(backoff: &Backoff, attempt: u32, entropy: &Entropy) -> Duration {
    Duration::from_millis(backoff.delay_ms(attempt, entropy.jitter()))
}
