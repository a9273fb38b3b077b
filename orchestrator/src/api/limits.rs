//! Limits against abuse at the gRPC edge, each answered RESOURCE_EXHAUSTED so that the
//! service stays healthy for everyone else: watchers (WatchSaga, WatchSagas) per client
//! connection, and operators' actions per principal per minute. (The size of a request
//! and the streams of a connection are the server's own limits: `startup`.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ApiError;
use crate::auth::Principal;

/// The limits in force.
#[derive(Clone)]
pub struct Limits {
    watchers: Watchers,
    /// `None`: operators' actions are not limited.
    actions: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    actions_per_minute: u32,
}

impl Limits {
    /// At most `watchers_per_connection` open watches per client connection, and
    /// `actions_per_minute` operators' actions per principal (0: no limit).
    pub fn new(watchers_per_connection: usize, actions_per_minute: u32) -> Self {
        let actions = NonZeroU32::new(actions_per_minute)
            .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))));
        Self {
            watchers: Watchers {
                limit: watchers_per_connection,
                open: Arc::default(),
            },
            actions,
            actions_per_minute,
        }
    }

    /// Room for one more operator's action by `principal`, or why not.
    pub fn action(&self, principal: &Principal) -> Result<(), ApiError> {
        match &self.actions {
            Some(limiter) if limiter.check_key(&principal.0).is_err() => {
                Err(ApiError::Exhausted(format!(
                    "{} has made {} operators' actions in the last minute; try again later",
                    principal.0, self.actions_per_minute
                )))
            }
            _ => Ok(()),
        }
    }

    /// Room for one more watcher on the connection from `peer` (the web page names a
    /// browser by its address with port 0; none: in process, not counted); the returned
    /// pass holds it until dropped.
    pub fn watcher(&self, peer: Option<SocketAddr>) -> Result<WatcherPass, ApiError> {
        self.watchers.enter(peer)
    }
}

/// Open watches by client connection.
#[derive(Clone)]
struct Watchers {
    limit: usize,
    open: Arc<Mutex<HashMap<SocketAddr, usize>>>,
}

impl Watchers {
    fn enter(&self, peer: Option<SocketAddr>) -> Result<WatcherPass, ApiError> {
        let Some(peer) = peer else {
            return Ok(WatcherPass(None));
        };
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(peer).or_default();
        if *count >= self.limit {
            return Err(ApiError::Exhausted(format!(
                "this connection already has {} watches open; close one, or open another connection",
                self.limit
            )));
        }
        *count += 1;
        Ok(WatcherPass(Some((self.clone(), peer))))
    }
}

/// One watcher's room on its connection, given back when the watch ends.
pub struct WatcherPass(Option<(Watchers, SocketAddr)>);

impl Drop for WatcherPass {
    fn drop(&mut self) {
        let Some((watchers, peer)) = self.0.take() else {
            return;
        };
        let mut open = watchers
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_gets_its_watchers_and_each_ended_watch_gives_one_back() {
        let limits = Limits::new(2, 0);
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        let other = Some(SocketAddr::from(([127, 0, 0, 1], 5001)));
        let first = limits.watcher(peer).expect("one");
        let _second = limits.watcher(peer).expect("two");
        assert!(matches!(limits.watcher(peer), Err(ApiError::Exhausted(_))));
        assert!(
            limits.watcher(other).is_ok(),
            "another connection has its own"
        );
        assert!(limits.watcher(None).is_ok(), "in process: not counted");
        drop(first);
        assert!(
            limits.watcher(peer).is_ok(),
            "an ended watch gives its room back"
        );
    }

    #[test]
    fn each_principal_has_its_own_actions_a_minute() {
        let limits = Limits::new(1, 2);
        let (ann, bob) = (Principal("ann".into()), Principal("bob".into()));
        assert!(limits.action(&ann).is_ok() && limits.action(&ann).is_ok());
        assert!(matches!(limits.action(&ann), Err(ApiError::Exhausted(_))));
        assert!(
            limits.action(&bob).is_ok(),
            "bob is not held to ann's actions"
        );
        let unlimited = Limits::new(1, 0);
        assert!((0..100).all(|_| unlimited.action(&ann).is_ok()));
    }
}
