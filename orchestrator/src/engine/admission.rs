//! Admission by queueing delay. At most `--max-working-sagas` sagas make calls at once: a
//! saga holds its place from its first call until it waits for a retry or ends, and the
//! others queue for one in arrival order. A new saga is refused at once (nothing written)
//! when the wait it would have for its first call, the queue's length over the rate at
//! which places are given, is longer than `--max-queue-delay-ms` or than its caller can
//! wait: under overload the sagas taken in start within that delay, instead of all
//! slowing down together until callers give up on them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The span over which the rate of places given is measured.
const WINDOW: Duration = Duration::from_millis(50);
/// A gap between places given that says the engine was idle rather than slow.
const IDLE: Duration = Duration::from_millis(500);

/// The places of working sagas and the queue for them.
pub(super) struct Admission {
    places: Arc<Semaphore>,
    size: usize,
    /// Sagas admitted or resumed that have no place yet.
    queued: Arc<AtomicUsize>,
    rate: Mutex<Rate>,
    max_delay: Duration,
}

impl Admission {
    pub(super) fn new(places: usize, max_delay: Duration) -> Self {
        let size = places.max(1);
        Self {
            places: Arc::new(Semaphore::new(size)),
            size,
            queued: Arc::new(AtomicUsize::new(0)),
            rate: Mutex::new(Rate::new(Instant::now())),
            max_delay,
        }
    }

    /// A ticket for a new saga, whose caller can wait `patience` (`None`: as long as it
    /// takes), if it would get its place soon enough. The ticket counts it in the queue
    /// from now on (so that a burst of arrivals sees itself), until it has its place.
    pub(super) fn admit(&self, patience: Option<Duration>) -> Option<Queued> {
        let limit = patience.map_or(self.max_delay, |p| p.min(self.max_delay));
        (self.expected_wait() <= limit).then(|| Queued::new(&self.queued))
    }

    /// The wait a saga arriving now would have for its place.
    pub(super) fn expected_wait(&self) -> Duration {
        let queued = self.queued.load(Ordering::Relaxed);
        let waiting = queued.saturating_sub(self.places.available_permits());
        if waiting == 0 {
            return Duration::ZERO;
        }
        match self.lock_rate().per_s(Instant::now()) {
            // Not measured yet: a full round of places is taken to be soon enough.
            None if waiting < self.size => Duration::ZERO,
            None => Duration::MAX,
            Some(per_s) if per_s <= 0.0 => Duration::MAX,
            Some(per_s) => {
                Duration::try_from_secs_f64((waiting + 1) as f64 / per_s).unwrap_or(Duration::MAX)
            }
        }
    }

    /// A place, after those queued before (`ticket`: the saga's since its admission);
    /// held until dropped. (`None` if the places were closed, which they never are.)
    pub(super) async fn enter(&self, ticket: Option<Queued>) -> Option<OwnedSemaphorePermit> {
        let queued = ticket.unwrap_or_else(|| Queued::new(&self.queued));
        let place = Arc::clone(&self.places).acquire_owned().await.ok();
        drop(queued);
        self.lock_rate().given(Instant::now());
        place
    }

    fn lock_rate(&self) -> std::sync::MutexGuard<'_, Rate> {
        self.rate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One saga in the queue, counted until it leaves it (with a place, or given up).
pub(super) struct Queued(Arc<AtomicUsize>);

impl Queued {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        let queued = count.fetch_add(1, Ordering::Relaxed) + 1;
        gauge(queued);
        Self(Arc::clone(count))
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        let queued = self.0.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        gauge(queued);
    }
}

fn gauge(queued: usize) {
    if service_kit::http::recording() {
        metrics::gauge!(crate::metrics::QUEUED).set(queued as f64);
    }
}

/// Places given per second, over windows of [`WINDOW`], smoothed.
struct Rate {
    since: Instant,
    given: u32,
    /// `None` until a window closed.
    per_s: Option<f64>,
}

impl Rate {
    fn new(now: Instant) -> Self {
        Self {
            since: now,
            given: 0,
            per_s: None,
        }
    }

    fn given(&mut self, now: Instant) {
        self.given += 1;
        let elapsed = now.duration_since(self.since);
        if elapsed > IDLE {
            // After a quiet spell: a new window, that spell measured as nothing.
            self.since = now;
            self.given = 1;
        } else if elapsed >= WINDOW {
            let measured = f64::from(self.given) / elapsed.as_secs_f64();
            self.per_s = Some(
                self.per_s
                    .map_or(measured, |before| (before + measured) / 2.0),
            );
            self.since = now;
            self.given = 0;
        }
    }

    /// The rate now: the smoothed one, unless places have been given too rarely of late
    /// to close a window (then what this open window has seen).
    fn per_s(&self, now: Instant) -> Option<f64> {
        let elapsed = now.duration_since(self.since);
        match elapsed > 2 * WINDOW {
            // Sagas wait (the caller checked) and places come rarely, or not at all.
            true => Some(f64::from(self.given) / elapsed.as_secs_f64()),
            false => self.per_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` sagas queued behind the held places, each leaving with its place at once.
    fn queue(admission: &Arc<Admission>, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n)
            .map(|_| {
                let admission = Arc::clone(admission);
                tokio::spawn(async move { drop(admission.enter(None).await) })
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_longer_than_the_delay_or_the_callers_patience_refuses() {
        let admission = Arc::new(Admission::new(1, Duration::from_millis(100)));
        assert_eq!(admission.expected_wait(), Duration::ZERO);
        // Places given at 100 a second for a while.
        for _ in 0..20 {
            let place = admission.enter(None).await;
            tokio::time::advance(Duration::from_millis(10)).await;
            drop(place);
        }
        let held = admission.enter(None).await;
        let waiters = queue(&admission, 5);
        tokio::task::yield_now().await;
        // Five queued at 100 a second: 60 ms for the next.
        let wait = admission.expected_wait();
        assert!(wait > Duration::from_millis(50), "{wait:?}");
        assert!(wait < Duration::from_millis(70), "{wait:?}");
        let ticket = admission.admit(None);
        assert!(ticket.is_some(), "within the delay");
        assert!(
            admission.expected_wait() > wait,
            "the admitted saga counts in the queue"
        );
        drop(ticket);
        let impatient = admission.admit(Some(Duration::from_millis(20)));
        assert!(impatient.is_none(), "beyond the caller's patience");
        let more = queue(&admission, 10);
        tokio::task::yield_now().await;
        assert!(
            admission.admit(None).is_none(),
            "{:?}",
            admission.expected_wait()
        );
        // Nothing given for a long while: stalled.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(admission.expected_wait(), Duration::MAX);
        drop(held);
        for waiter in waiters.into_iter().chain(more) {
            waiter.await.ok();
        }
        assert!(admission.admit(None).is_some(), "the queue drained");
    }

    #[tokio::test(start_paused = true)]
    async fn before_any_rate_is_known_a_round_of_places_is_admitted() {
        let admission = Admission::new(4, Duration::from_millis(100));
        let tickets: Vec<_> = (0..12).filter_map(|_| admission.admit(None)).collect();
        assert_eq!(
            tickets.len(),
            8,
            "four to places at once, a round of four queued"
        );
    }
}
