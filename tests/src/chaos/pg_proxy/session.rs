//! One client connection through the database proxy: the opening packets forwarded as
//! they are, then a pump each way that cuts the stream into messages, keeps track of the
//! session (answers still due, the last transaction status) and injects the fault of the
//! moment.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use super::wire::{self, Frames, FromClient};
use super::{Counters, PgFault, Shared};
use crate::chaos::plan::derive;

mod replies;

use replies::server_to_client;

/// How long the proxy tries to reach the server before closing the client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The most read from either side at once.
const CHUNK: usize = 16 * 1024;

/// Why a statement is the last one forwarded on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    InDoubt,
    Cut,
}

/// What both pumps know of the session.
#[derive(Debug)]
struct Session {
    /// ReadyForQuery answers still due: one per Query or Sync sent, one for the startup.
    ready_due: u64,
    /// The transaction status of the last ReadyForQuery (`I`, `T` or `E`).
    status: u8,
    /// While a `COMMIT` (or a write outside a transaction, which commits as it ends) is
    /// made in doubt: the ReadyForQuery answers to swallow, the commit's own the last.
    swallow: Option<u64>,
    /// Whether the commit in doubt is a write outside a transaction.
    swallowing_autocommit: bool,
    /// The tag of the last CommandComplete swallowed since the last ReadyForQuery.
    swallowed_tag: String,
}

type Locked = Arc<Mutex<Session>>;

fn lock(session: &Locked) -> std::sync::MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves one connection until either side closes it, a fault cuts it, or shutdown.
pub(super) async fn serve(mut inbound: TcpStream, number: u64, shared: Arc<Shared>) {
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.upstream)).await;
    let Ok(Ok(mut upstream)) = connected else {
        Counters::bump(&shared.counters.unreachable);
        return;
    };
    let _ = (inbound.set_nodelay(true), upstream.set_nodelay(true));
    let opened = tokio::select! {
        opened = open(&mut inbound, &mut upstream) => opened,
        () = shared.shutdown.cancelled() => return,
    };
    match opened {
        Ok(true) => {}
        Ok(false) => {
            Counters::bump(&shared.counters.passed_through);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream) => {}
                () = shared.shutdown.cancelled() => {}
            }
            return;
        }
        Err(_) => return,
    }
    let session = Arc::new(Mutex::new(Session {
        ready_due: 1,
        status: b'I',
        swallow: None,
        swallowing_autocommit: false,
        swallowed_tag: String::new(),
    }));
    let cut = CancellationToken::new();
    let rng = StdRng::seed_from_u64(derive(shared.settings.seed, &[number]));
    let (from_client, to_client) = inbound.split();
    let (from_server, to_server) = upstream.split();
    let both = async {
        tokio::join!(
            client_to_server(from_client, to_server, &session, &shared, &cut, rng),
            server_to_client(from_server, to_client, &session, &shared, &cut),
        )
    };
    tokio::select! {
        _ = both => {}
        () = cut.cancelled() => {}
        () = shared.shutdown.cancelled() => {}
    }
}

/// Forwards the client's untyped opening packets and the server's one-byte answers to
/// SSLRequest and GSSENCRequest. `Ok(true)`: the startup message went through and
/// messages follow; `Ok(false)`: the rest is not to be read (TLS, or a cancel request).
async fn open(client: &mut TcpStream, server: &mut TcpStream) -> std::io::Result<bool> {
    // Each round forwards one packet; a client asks for encryption at most twice.
    for _ in 0..3 {
        let packet = wire::read_untyped(client).await?;
        server.write_all(&packet).await?;
        match wire::untyped_code(&packet) {
            wire::SSL_REQUEST | wire::GSSENC_REQUEST => {
                let answer = server.read_u8().await?;
                client.write_all(&[answer]).await?;
                if answer != b'N' {
                    return Ok(false);
                }
            }
            wire::CANCEL_REQUEST => return Ok(false),
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// One direction of a connection cut into messages: the chunks read so far and what of
/// them is not yet a whole message.
struct Reader {
    frames: Frames,
    buf: Vec<u8>,
}

impl Reader {
    fn new() -> Self {
        Self {
            frames: Frames::default(),
            buf: vec![0u8; CHUNK],
        }
    }

    /// Reads the next chunk from `from`; `false` when it failed, or closed (the close
    /// passed on to `to`).
    async fn fill(&mut self, from: &mut ReadHalf<'_>, to: &mut WriteHalf<'_>) -> bool {
        match from.read(&mut self.buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                false
            }
            Ok(n) => {
                self.frames.push(&self.buf[..n]);
                true
            }
            Err(_) => false,
        }
    }

    /// The next whole message read, if any; `Err` (counted) when the stream is not the
    /// protocol.
    fn next(&mut self, counters: &Counters) -> Result<Option<Vec<u8>>, ()> {
        self.frames.next_frame().map_err(|_| {
            Counters::bump(&counters.protocol_errors);
        })
    }
}

/// Client to server: forwards every message, and decides at each Query or Sync whether
/// this is the one to make in doubt or to cut after. A commit to make in doubt is a
/// `COMMIT` in a transaction, or a write (INSERT, UPDATE, DELETE, a WITH holding one)
/// sent outside any, as one statement: its own transaction, committed as it ends.
async fn client_to_server(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    session: &Locked,
    shared: &Shared,
    cut: &CancellationToken,
    mut rng: StdRng,
) {
    // However this side ends, the connection ends with it (the server's answers have
    // no one to go to), but after an in-doubt commit, whose answer is still swallowed.
    let closer = cut.clone().drop_guard();
    let settings = shared.settings;
    let fault = shared.fault.subscribe();
    let mut reader = Reader::new();
    let mut commit_statements: HashSet<String> = HashSet::new();
    let mut write_statements: HashSet<String> = HashSet::new();
    let (mut commit_bound, mut write_bound) = (false, false);
    while reader.fill(&mut from, &mut to).await {
        let mut out = Vec::new();
        loop {
            let Ok(next) = reader.next(&shared.counters) else {
                return;
            };
            let Some(frame) = next else {
                break;
            };
            let answered = match wire::from_client(&frame) {
                FromClient::Query(sql) => Some((wire::is_commit(sql), false)),
                FromClient::Parse { statement, sql } => {
                    mark(&mut commit_statements, statement, wire::is_commit(sql));
                    mark(&mut write_statements, statement, wire::is_write(sql));
                    None
                }
                FromClient::Bind { statement } => {
                    commit_bound |= commit_statements.contains(statement);
                    write_bound |= write_statements.contains(statement);
                    None
                }
                FromClient::CloseStatement(statement) => {
                    commit_statements.remove(statement);
                    write_statements.remove(statement);
                    None
                }
                FromClient::Sync => Some((
                    std::mem::take(&mut commit_bound),
                    std::mem::take(&mut write_bound),
                )),
                FromClient::Other => None,
            };
            out.extend_from_slice(&frame);
            let Some((commit, write)) = answered else {
                continue;
            };
            let now = fault.borrow().now();
            let last = {
                let mut s = lock(session);
                s.ready_due += 1;
                let in_transaction = s.status == b'T';
                // Not a number is never.
                let chance = |p: f64, rng: &mut StdRng| p > 0.0 && rng.random_bool(p.min(1.0));
                match now {
                    PgFault::InDoubtCommits
                        if (commit && in_transaction || write && s.status == b'I')
                            && chance(settings.in_doubt_probability, &mut rng) =>
                    {
                        // Set before the commit is sent, so that its answer is covered.
                        s.swallow = Some(s.ready_due);
                        s.swallowing_autocommit = !commit;
                        Some(Last::InDoubt)
                    }
                    PgFault::CutsMidTransaction
                        if in_transaction && chance(settings.cut_probability, &mut rng) =>
                    {
                        Some(Last::Cut)
                    }
                    _ => None,
                }
            };
            let Some(last) = last else {
                continue;
            };
            // Nothing after this statement is forwarded. A cut ends the connection now;
            // an in-doubt commit's ends once the server answered it (or went away).
            let _ = to.write_all(&out).await;
            let _ = to.flush().await;
            match last {
                Last::Cut => Counters::bump(&shared.counters.mid_transaction_cuts),
                Last::InDoubt => {
                    closer.disarm();
                }
            }
            return;
        }
        if to.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Puts `statement` into `set` or takes it out, as its text is or is not of the kind.
fn mark(set: &mut HashSet<String>, statement: &str, of_the_kind: bool) {
    match of_the_kind {
        true => set.insert(statement.to_string()),
        false => set.remove(statement),
    };
}
