//! Bounded polling: wait for a condition by observing it repeatedly until a deadline,
//! never by sleeping a guessed amount of time.

use std::future::Future;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

/// Pause between two observations.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// One observation of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Check<T> {
    /// The condition holds; polling ends with this value.
    Done(T),
    /// Not yet; the text describes what was seen, for the timeout error.
    NotYet(String),
}

/// Observes `probe` every [`POLL_INTERVAL`] until it is [`Check::Done`]; after `deadline`
/// fails with `what` and the last observation. An error from `probe` ends polling.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>>>,
{
    let give_up = Instant::now() + deadline;
    loop {
        match probe().await? {
            Check::Done(value) => return Ok(value),
            Check::NotYet(seen) if Instant::now() >= give_up => {
                bail!("timed out after {deadline:?} waiting for {what}; last seen: {seen}")
            }
            Check::NotYet(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}
