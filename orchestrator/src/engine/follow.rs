//! Following a saga's log as it grows: a watcher learns that the saga may have moved
//! from this process's driver (in memory, at once) or, for a saga another replica drives,
//! by looking again every [`WATCH_POLL`].

use std::time::Duration;

use tokio::sync::watch;

use super::Engine;
use super::driver::Progress;

/// How often a watcher looks at a saga it has no signal of (another replica drives it):
/// slower than a waiting caller's look, since a dashboard may hold many watchers.
const WATCH_POLL: Duration = Duration::from_millis(250);

/// Taken before a read of the saga, so that a commit after the read is not missed.
#[derive(Debug)]
pub struct Change {
    driven_here: Option<watch::Receiver<Progress>>,
}

impl Engine {
    /// A signal of the saga's next change after now.
    pub fn next_change(&self, saga_id: &str) -> Change {
        let driven_here = self.inner.watch(saga_id).map(|mut status| {
            status.borrow_and_update();
            status
        });
        Change { driven_here }
    }

    /// Waits for `change` (or one look's pause, whichever comes first); false once the
    /// orchestrator is stopping.
    pub async fn changed(&self, change: Change) -> bool {
        let moved = async {
            match change.driven_here {
                // A closed channel: its driver stopped; the next look finds out more.
                Some(mut status) => {
                    let _ = status.changed().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = moved => true,
            () = tokio::time::sleep(WATCH_POLL) => true,
            () = self.inner.shutdown.cancelled() => false,
        }
    }
}
