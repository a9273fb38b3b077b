//! The stage of a campaign: the three nodes and the two proxies, and the loop that carries
//! out the plan's actions on time while restarting any participant that crashed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::journal::Journal;
use super::node::Node;
use super::plan::{Action, Link, Timed};
use super::proxy::{FaultProxy, ProxyMode};
use super::storage::StorageLock;
use crate::binaries::Binary;

/// Longest sleep of the loop between two looks at the processes.
const TICK: Duration = Duration::from_millis(25);

/// What one proxy was told to do, and what it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProxyFigures {
    pub latency_windows: u64,
    pub blackhole_windows: u64,
    /// Resets of every open connection.
    pub reset_events: u64,
    /// Windows in which new connections were reset.
    pub refuse_windows: u64,
    pub connections: u64,
    pub connections_reset: u64,
    /// Connections refused because the participant was down.
    pub unreachable: u64,
    pub delayed_chunks: u64,
}

/// The processes and proxies of a campaign.
#[derive(Debug)]
pub struct Stage {
    pub nodes: BTreeMap<Binary, Node>,
    pub proxies: BTreeMap<Link, FaultProxy>,
    windows: BTreeMap<Link, ProxyFigures>,
    /// Nodes due to start again whose previous process is still draining after SIGTERM.
    pending_starts: BTreeSet<Binary>,
    /// Storage stalls in progress.
    locks: BTreeMap<Binary, StorageLock>,
    /// The runner's own log of what it did.
    pub journal: Journal,
    /// When the last fault was injected (or the last incident ended).
    pub last_fault: Option<Instant>,
}

impl Stage {
    /// A stage of `nodes` (not started) and `proxies` (already forwarding).
    pub fn new(nodes: Vec<Node>, proxies: Vec<(Link, FaultProxy)>, journal: Journal) -> Self {
        Self {
            nodes: nodes.into_iter().map(|n| (n.binary(), n)).collect(),
            windows: proxies
                .iter()
                .map(|(l, _)| (*l, ProxyFigures::default()))
                .collect(),
            proxies: proxies.into_iter().collect(),
            pending_starts: BTreeSet::new(),
            locks: BTreeMap::new(),
            journal,
            last_fault: None,
        }
    }

    /// The node running `binary`.
    pub fn node(&mut self, binary: Binary) -> Result<&mut Node> {
        self.nodes
            .get_mut(&binary)
            .with_context(|| format!("no {} on the stage", binary.name()))
    }

    fn proxy(&self, link: Link) -> Result<&FaultProxy> {
        self.proxies
            .get(&link)
            .with_context(|| format!("no proxy for {link:?}"))
    }

    /// Starts every node, participants first.
    pub async fn start_all(&mut self) -> Result<()> {
        for binary in Binary::ALL {
            self.node(binary)?.start().await?;
        }
        Ok(())
    }

    /// Carries out `actions` (offsets from `started`) as they fall due, and restarts any
    /// process that exited on its own, until `end` or `stop`. Calls `tick` on every turn.
    pub async fn run_plan(
        &mut self,
        actions: &[Timed],
        started: Instant,
        end: Instant,
        stop: &CancellationToken,
        mut tick: impl FnMut(&Stage),
    ) -> Result<()> {
        let mut next = 0;
        let turns = end.saturating_duration_since(Instant::now()).as_millis() / TICK.as_millis()
            + actions.len() as u128
            + 2;
        for _ in 0..turns {
            if stop.is_cancelled() || Instant::now() >= end {
                break;
            }
            self.restart_exited().await?;
            while let Some(due) = actions
                .get(next)
                .filter(|t| started + t.at <= Instant::now())
            {
                self.apply(due.action).await?;
                next += 1;
            }
            tick(self);
            let wake = actions
                .get(next)
                .map_or(end, |t| started + t.at)
                .min(Instant::now() + TICK)
                .min(end);
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = stop.cancelled() => {}
            }
        }
        Ok(())
    }

    /// Starts the nodes due to start whose previous process has finished draining (or
    /// overran its bound and was killed), without blocking the schedule meanwhile.
    async fn start_pending(&mut self) -> Result<()> {
        for binary in self.pending_starts.clone() {
            let node = self.node(binary)?;
            if !node.is_draining()? {
                node.start().await?;
                self.pending_starts.remove(&binary);
                self.journal.note(&format!("{} started", binary.name()));
            }
        }
        Ok(())
    }

    /// Restarts every process that exited without being told to (a `crash` fault), and
    /// starts the nodes whose drain ended.
    pub async fn restart_exited(&mut self) -> Result<()> {
        self.start_pending().await?;
        for node in self.nodes.values_mut() {
            let Some(status) = node.poll_exit()? else {
                continue;
            };
            let name = node.binary().name();
            self.journal.note(&format!("{name} exited: {status}"));
            if !node.is_held_down() {
                self.last_fault = Some(Instant::now());
                node.start().await?;
                self.journal.note(&format!("{name} restarted"));
            }
        }
        Ok(())
    }

    /// Carries out one action of the plan.
    pub async fn apply(&mut self, action: Action) -> Result<()> {
        let now = Instant::now();
        self.journal.note(&format!("{action:?}"));
        match action {
            Action::Kill(binary) => {
                self.node(binary)?.kill().await?;
                self.last_fault = Some(now);
            }
            Action::Terminate(binary) => {
                self.node(binary)?.term()?;
                self.last_fault = Some(now);
            }
            Action::Start(binary) => {
                self.pending_starts.insert(binary);
                self.start_pending().await?;
                self.last_fault = Some(now);
            }
            Action::Pause(binary) => {
                self.node(binary)?.pause()?;
                self.last_fault = Some(now);
            }
            Action::Resume(binary) => {
                self.node(binary)?.resume()?;
                self.last_fault = Some(now);
            }
            Action::Proxy(link, mode) => {
                self.proxy(link)?.set_mode(mode);
                let figures = self.windows.entry(link).or_default();
                match mode {
                    ProxyMode::Clean => {}
                    ProxyMode::Latency(_) => figures.latency_windows += 1,
                    ProxyMode::Blackhole => figures.blackhole_windows += 1,
                    ProxyMode::Refuse => figures.refuse_windows += 1,
                }
                self.last_fault = Some(now);
            }
            Action::LockStorage(binary) => {
                let node = self.node(binary)?;
                let database = node.database().to_path_buf();
                // Before the first start there is nothing to lock yet.
                if database.is_file()
                    && let Some(lock) = StorageLock::take(&database).await?
                {
                    self.node(binary)?.count_storage_stall();
                    self.locks.insert(binary, lock);
                }
                self.last_fault = Some(now);
            }
            Action::UnlockStorage(binary) => {
                if let Some(lock) = self.locks.remove(&binary) {
                    lock.release().await?;
                }
                self.last_fault = Some(now);
            }
            Action::ResetConnections(link) => {
                self.proxy(link)?.reset_connections();
                self.windows.entry(link).or_default().reset_events += 1;
                self.last_fault = Some(now);
            }
        }
        Ok(())
    }

    /// Ends every fault: proxies clean, paused processes resumed, participants restarted
    /// without faults (SIGTERM, then a fault-free generation), every node up.
    pub async fn calm(&mut self) -> Result<()> {
        self.journal.note("calm: every fault off");
        for proxy in self.proxies.values() {
            proxy.set_mode(ProxyMode::Clean);
        }
        for (_, lock) in std::mem::take(&mut self.locks) {
            lock.release().await?;
        }
        for node in self.nodes.values_mut() {
            node.resume()?;
        }
        self.restart_exited().await?;
        self.pending_starts.clear();
        for binary in Binary::ALL {
            let node = self.node(binary)?;
            if binary != Binary::Orchestrator {
                node.set_faults(false);
                node.terminate().await?;
            }
            node.start().await?;
        }
        self.last_fault = Some(Instant::now());
        Ok(())
    }

    /// SIGTERM to every node, orchestrator first.
    pub async fn stop_all(&mut self) -> Result<()> {
        for binary in Binary::ALL.into_iter().rev() {
            self.node(binary)?.terminate().await?;
        }
        Ok(())
    }

    /// What each proxy was told to do and did.
    pub fn proxy_figures(&self) -> BTreeMap<Link, ProxyFigures> {
        let mut figures = self.windows.clone();
        for (link, proxy) in &self.proxies {
            let counts = proxy.counts();
            let f = figures.entry(*link).or_default();
            f.connections = counts.connections;
            f.connections_reset = counts.resets;
            f.unreachable = counts.unreachable;
            f.delayed_chunks = counts.delayed_chunks;
        }
        figures
    }
}
