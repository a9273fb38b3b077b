//! Server to client on one connection through the database proxy: every message
//! forwarded (late in a delay window), but the answer to a commit made in doubt, which
//! is swallowed before the connection is cut.

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use super::{Locked, Reader, lock};
use crate::chaos::pg_proxy::wire::{self, FromServer};
use crate::chaos::pg_proxy::{Counters, PgFault, Shared};

/// Server to client: forwards every message, late in a delay window, and swallows the
/// answer to a commit made in doubt, then cuts the connection.
pub(super) async fn server_to_client(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    session: &Locked,
    shared: &Shared,
    cut: &CancellationToken,
) {
    // However this side ends (the server closed or reset it, an answer was swallowed),
    // the connection ends with it: a client must never wait for an answer that cannot
    // come.
    let _closer = cut.clone().drop_guard();
    let counters = &shared.counters;
    let fault = shared.fault.subscribe();
    let mut reader = Reader::new();
    while reader.fill(&mut from, &mut to).await {
        let mut out = Vec::new();
        loop {
            let Ok(next) = reader.next(counters) else {
                return;
            };
            let Some(frame) = next else {
                break;
            };
            let step = swallow_or_forward(session, &frame);
            match step {
                Step::Forward => out.extend_from_slice(&frame),
                Step::Swallow => {}
                Step::Answered { committed } => {
                    Counters::bump(match committed {
                        true => &counters.in_doubt_commits,
                        false => &counters.refused_commits_dropped,
                    });
                    // Answers read before the commit was chosen still go out; its own never.
                    let _ = to.write_all(&out).await;
                    return;
                }
            }
        }
        if out.is_empty() {
            continue;
        }
        let now = fault.borrow().now();
        if let PgFault::DelayedReplies(delay) = now {
            Counters::bump(&counters.delayed_chunks);
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// What becomes of one message from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Forward,
    /// Part of the answer to a commit made in doubt.
    Swallow,
    /// The last of that answer: its ReadyForQuery, and whether the server committed.
    Answered {
        committed: bool,
    },
}

/// Follows the session through one message from the server and says what to do with it.
fn swallow_or_forward(session: &Locked, frame: &[u8]) -> Step {
    let message = wire::from_server(frame);
    let mut s = lock(session);
    if let FromServer::Ready(status) = message {
        s.ready_due = s.ready_due.saturating_sub(1);
        s.status = status;
    }
    let Some(left) = s.swallow else {
        return Step::Forward;
    };
    match message {
        FromServer::Complete(tag) => s.swallowed_tag = tag.to_string(),
        FromServer::Ready(status) if left <= 1 => {
            s.swallow = None;
            // A write outside a transaction committed if it completed: an error has no
            // CommandComplete.
            let tag = std::mem::take(&mut s.swallowed_tag);
            let completed = tag == "COMMIT" || s.swallowing_autocommit && !tag.is_empty();
            return Step::Answered {
                committed: completed && status == b'I',
            };
        }
        FromServer::Ready(_) => {
            s.swallow = Some(left - 1);
            s.swallowed_tag.clear();
        }
        FromServer::Other => {}
    }
    Step::Swallow
}
