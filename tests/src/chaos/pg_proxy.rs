//! A fault proxy on loopback in front of the PostgreSQL server, between it and every
//! service's connection: it follows the wire protocol far enough to see each `COMMIT`
//! and each ReadyForQuery's transaction status, and, in windows the plan opens, lets a
//! `COMMIT` commit and drops its reply (an in-doubt commit: done, yet its writer saw an
//! error), holds the server's replies past the clients' timeouts, or cuts connections in
//! the middle of a transaction.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::process::TaskGuard;

mod session;
mod wire;

/// What the proxy does to the connections right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgFault {
    /// Forwards every message as it comes.
    Clean,
    /// Each `COMMIT` of an open transaction, with the settings' probability: forwarded,
    /// the server's whole answer (up to and including its ReadyForQuery) swallowed, then
    /// both sides closed. The commit surely happened; the client surely saw an error.
    InDoubtCommits,
    /// Holds every chunk from the server this long before passing it on.
    DelayedReplies(Duration),
    /// Closes a connection right after forwarding a statement sent inside a transaction,
    /// with the settings' probability: the server rolls the transaction back (or, if the
    /// statement was its `COMMIT`, may commit it), the client sees an error.
    CutsMidTransaction,
}

/// A fault and when it ends by itself (`None`: when told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    fault: PgFault,
    until: Option<Instant>,
}

impl Window {
    /// The fault in force now.
    fn now(&self) -> PgFault {
        match self.until {
            Some(until) if Instant::now() >= until => PgFault::Clean,
            _ => self.fault,
        }
    }
}

/// The proxy's fixed settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PgProxySettings {
    /// Root of each connection's draws (connection `n` draws from `derive(seed, [n])`).
    pub seed: u64,
    /// Chance that a `COMMIT` is made in doubt while [`PgFault::InDoubtCommits`].
    pub in_doubt_probability: f64,
    /// Chance that a statement inside a transaction is the last one of its connection
    /// while [`PgFault::CutsMidTransaction`].
    pub cut_probability: f64,
}

/// What the proxy did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PgProxyCounts {
    pub connections: u64,
    /// Connections closed at once because the server could not be reached.
    pub unreachable: u64,
    /// `COMMIT`s the server confirmed whose answer the client never got.
    pub in_doubt_commits: u64,
    /// `COMMIT`s chosen to be made in doubt that the server refused or rolled back (the
    /// connection was closed all the same).
    pub refused_commits_dropped: u64,
    /// Chunks from the server held by a delay window.
    pub delayed_chunks: u64,
    /// Connections closed right after a statement inside a transaction.
    pub mid_transaction_cuts: u64,
    /// Connections closed because a message could not be framed.
    pub protocol_errors: u64,
    /// Connections forwarded as plain bytes, unseen (TLS was accepted, or a cancel).
    pub passed_through: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    unreachable: AtomicU64,
    in_doubt_commits: AtomicU64,
    refused_commits_dropped: AtomicU64,
    delayed_chunks: AtomicU64,
    mid_transaction_cuts: AtomicU64,
    protocol_errors: AtomicU64,
    passed_through: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    settings: PgProxySettings,
    fault: watch::Sender<Window>,
    counters: Counters,
    shutdown: CancellationToken,
}

/// A running proxy. Dropping it closes the listener and every connection.
#[derive(Debug)]
pub struct PgProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _accept: TaskGuard,
}

impl PgProxy {
    /// Starts forwarding from `listener` to the server at `upstream`, clean.
    pub fn start(
        listener: TcpListener,
        upstream: SocketAddr,
        settings: PgProxySettings,
    ) -> Result<Self> {
        let addr = listener
            .local_addr()
            .context("the database proxy's listener has no address")?;
        let shared = Arc::new(Shared {
            upstream,
            settings,
            fault: watch::channel(Window {
                fault: PgFault::Clean,
                until: None,
            })
            .0,
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

    /// The address the services connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies to every message from now on, until told otherwise (an in-doubt commit
    /// under way is finished).
    pub fn set_fault(&self, fault: PgFault) {
        self.shared
            .fault
            .send_replace(Window { fault, until: None });
    }

    /// Applies `fault` for `length` from now, then forwards cleanly again on the
    /// proxy's own clock, whatever the runner is busy with meanwhile (a service that
    /// starts through the proxy must not wait for a window that only the runner, busy
    /// waiting for that start, could close).
    pub fn open_window(&self, fault: PgFault, length: Duration) {
        let until = Some(Instant::now() + length);
        self.shared.fault.send_replace(Window { fault, until });
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> PgProxyCounts {
        let c = &self.shared.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        PgProxyCounts {
            connections: load(&c.connections),
            unreachable: load(&c.unreachable),
            in_doubt_commits: load(&c.in_doubt_commits),
            refused_commits_dropped: load(&c.refused_commits_dropped),
            delayed_chunks: load(&c.delayed_chunks),
            mid_transaction_cuts: load(&c.mid_transaction_cuts),
            protocol_errors: load(&c.protocol_errors),
            passed_through: load(&c.passed_through),
        }
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// Accepts until shutdown; each connection runs in a task the loop owns.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut number = 0u64;
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
        Counters::bump(&shared.counters.connections);
        connections.spawn(session::serve(inbound, number, shared.clone()));
        number += 1;
    }
    connections.shutdown().await;
}

/// `url` (`postgres://[user[:password]@]host[:port]/database[?options]`) with its host
/// and port replaced by `addr`, everything else kept: the same database through the
/// proxy. Options that name another host or port are refused, since they would win.
pub fn url_through(url: &str, addr: SocketAddr) -> Result<String> {
    let Some(authority_at) = url.find("://").map(|at| at + 3) else {
        bail!("not a URL: {}", crate::backend::redact(url));
    };
    let rest = &url[authority_at..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    let options = tail.split_once('?').map_or("", |(_, options)| options);
    if options
        .split('&')
        .any(|o| o.starts_with("host=") || o.starts_with("port=") || o.starts_with("hostaddr="))
    {
        bail!(
            "cannot put a proxy in front of {}: its options name the host",
            crate::backend::redact(url)
        );
    }
    let user = authority
        .rsplit_once('@')
        .map_or(String::new(), |(user, _)| format!("{user}@"));
    Ok(format!("{}{user}{addr}{tail}", &url[..authority_at]))
}

/// The address of the server `url` names (its host resolved, a loopback one here).
pub async fn server_addr(url: &str) -> Result<SocketAddr> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("bad URL {}", crate::backend::redact(url)))?;
    let (host, port) = (options.get_host().to_string(), options.get_port());
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))
}

#[cfg(test)]
mod tests;
