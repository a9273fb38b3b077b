//! A small TCP fault proxy on loopback between the orchestrator and one participant: it
//! forwards bytes, and on command adds latency, resets connections, refuses new ones or
//! black-holes traffic (holds it undelivered) until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::process::TaskGuard;

/// How long the proxy tries to reach the participant before resetting the client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const CHUNK: usize = 16 * 1024;

/// What the proxy does to traffic right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards bytes as they come.
    Clean,
    /// Delays every chunk, in each direction, by this much.
    Latency(Duration),
    /// Accepts and reads nothing, forwards nothing: calls hang until their deadline.
    Blackhole,
    /// Resets every new connection at once.
    Refuse,
}

/// What a proxy did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    pub connections: u64,
    /// Connections reset by a reset or a refusal.
    pub resets: u64,
    /// Connections reset because the participant could not be reached (it was down).
    pub unreachable: u64,
    /// Chunks delivered late by a latency window.
    pub delayed_chunks: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    resets: AtomicU64,
    unreachable: AtomicU64,
    delayed_chunks: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    /// Bumped to reset every open connection.
    resets: watch::Sender<u64>,
    counters: Counters,
    shutdown: CancellationToken,
}

/// A running proxy. Dropping it closes the listener and every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _accept: TaskGuard,
}

impl FaultProxy {
    /// Starts forwarding from `listener` to `upstream`, in `Clean` mode.
    pub fn start(listener: TcpListener, upstream: SocketAddr) -> Result<Self> {
        let addr = listener
            .local_addr()
            .context("the proxy listener has no address")?;
        let shared = Arc::new(Shared {
            upstream,
            mode: watch::channel(ProxyMode::Clean).0,
            resets: watch::channel(0).0,
            counters: Counters::default(),
            shutdown: CancellationToken::new(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self {
            addr,
            shared,
            _accept: TaskGuard(accept),
        })
    }

    /// The address the orchestrator connects to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, for the orchestrator's `--orders-url`/`--invoices-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies to new connections and to every chunk from now on.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.shared.mode.send_replace(mode);
    }

    /// Resets every connection open now.
    pub fn reset_connections(&self) {
        self.shared.resets.send_modify(|n| *n += 1);
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> ProxyCounts {
        let c = &self.shared.counters;
        ProxyCounts {
            connections: c.connections.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            unreachable: c.unreachable.load(Ordering::Relaxed),
            delayed_chunks: c.delayed_chunks.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// Accepts until shutdown; each connection runs in a task the loop owns.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    // Ends at shutdown (the proxy is dropped or the campaign ends).
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shared.shutdown.cancelled() => break,
        };
        while connections.try_join_next().is_some() {}
        let Ok((inbound, _)) = accepted else {
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        connections.spawn(serve(inbound, shared.clone()));
    }
    connections.shutdown().await;
}

/// Forwards one connection until either side closes it, a reset, or shutdown.
async fn serve(mut inbound: TcpStream, shared: Arc<Shared>) {
    let mut mode = shared.mode.subscribe();
    let mut resets = shared.resets.subscribe();
    // A black-holed connection is held, unanswered, until the window ends.
    let held = tokio::select! {
        held = mode.wait_for(|m| *m != ProxyMode::Blackhole) => held.map(|m| *m),
        _ = resets.changed() => Ok(ProxyMode::Refuse),
        () = shared.shutdown.cancelled() => return,
    };
    if !matches!(held, Ok(ProxyMode::Clean | ProxyMode::Latency(_))) {
        return reset(&shared, [Some(inbound), None]);
    }
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.upstream)).await;
    let Ok(Ok(mut upstream)) = connected else {
        shared.counters.unreachable.fetch_add(1, Ordering::Relaxed);
        let _ = inbound.set_zero_linger();
        return;
    };
    let _ = (inbound.set_nodelay(true), upstream.set_nodelay(true));
    let ended = {
        let (from_client, to_client) = inbound.split();
        let (from_server, to_server) = upstream.split();
        let both = async {
            tokio::join!(
                pump(from_client, to_server, mode.clone(), &shared.counters),
                pump(from_server, to_client, mode.clone(), &shared.counters),
            )
        };
        tokio::select! {
            _ = both => true,
            _ = resets.changed() => false,
            () = shared.shutdown.cancelled() => false,
        }
    };
    if !ended {
        reset(&shared, [Some(inbound), Some(upstream)]);
    }
}

/// Closes the streams with RST instead of FIN.
fn reset(shared: &Shared, streams: [Option<TcpStream>; 2]) {
    shared.counters.resets.fetch_add(1, Ordering::Relaxed);
    for stream in streams.into_iter().flatten() {
        let _ = stream.set_zero_linger();
    }
}

/// Copies one direction chunk by chunk, applying the mode to each chunk; ends at EOF or
/// an error (the connection's `select!` ends it on a reset or shutdown).
async fn pump<R, W>(
    mut from: R,
    mut to: W,
    mut mode: watch::Receiver<ProxyMode>,
    counters: &Counters,
) where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; CHUNK];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        let now = *mode.borrow_and_update();
        if let ProxyMode::Latency(delay) = now {
            counters.delayed_chunks.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
        // Held while black-holed: delivered once the window ends, like TCP after a
        // partition heals.
        if mode.wait_for(|m| *m != ProxyMode::Blackhole).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
