//! The stage of a campaign: the nodes (both participants and one or more orchestrators),
//! the two proxies, the databases and the proxy in front of the PostgreSQL server, and the loop that carries out the plan's actions on
//! time while restarting any participant that crashed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::journal::Journal;
use super::node::Node;
use super::node_id::NodeId;
use super::pg_proxy::{PgFault, PgProxy};
use super::pg_server::{PgServer, Restarted, ServerRestarts};
use super::plan::{Link, Timed};
use super::proxy::{FaultProxy, ProxyMode};
use super::storage::StorageLock;
use crate::backend::{Backend, Database};
use crate::binaries::Binary;

mod apply;
mod broker;
mod database_proxy;
mod restart;

use broker::Broker;
pub use broker::BrokerFigures;
pub use database_proxy::DatabaseProxyFigures;

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

/// What cutting the services' database connections did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionDrops {
    /// Rounds of `pg_terminate_backend` over the services' databases.
    pub rounds: u64,
    /// Connections terminated in all.
    pub terminated: u64,
    /// Rounds that could not reach the server.
    pub failed_rounds: u64,
}

/// The processes, proxies and databases of a campaign.
#[derive(Debug)]
pub struct Stage {
    pub nodes: BTreeMap<NodeId, Node>,
    /// The nodes in start-up order (participants first).
    order: Vec<NodeId>,
    pub proxies: BTreeMap<Link, FaultProxy>,
    windows: BTreeMap<Link, ProxyFigures>,
    /// Nodes due to start again whose previous process is still draining after SIGTERM.
    pending_starts: BTreeSet<NodeId>,
    /// Each service's database (the orchestrator replicas share one).
    databases: BTreeMap<Binary, Database>,
    backend: Backend,
    /// Storage stalls in progress.
    locks: BTreeMap<Binary, StorageLock>,
    drops: ConnectionDrops,
    /// How to restart the PostgreSQL server (none: never), and what restarting did.
    pg_server: Option<PgServer>,
    restarts: ServerRestarts,
    /// The restart under way, if any.
    restarting: Option<JoinHandle<Restarted>>,
    /// When the last restart was found over (the server answered again).
    database_back: Option<Instant>,
    /// The proxy every service reaches PostgreSQL through (none: they reach it directly).
    database_proxy: Option<PgProxy>,
    database_proxy_windows: DatabaseProxyFigures,
    /// The NATS server of a campaign on the NATS event path.
    broker: Option<Broker>,
    /// The runner's own log of what it did.
    pub journal: Journal,
    /// When the last fault was injected (or the last incident ended).
    pub last_fault: Option<Instant>,
}

impl Stage {
    /// A stage of `nodes` (not started, in start-up order), `proxies` (already
    /// forwarding) and the services' `databases` on `backend` (as the runner reaches
    /// them), whose PostgreSQL server `pg_server` restarts and which the services reach
    /// through `database_proxy`, if any.
    pub fn new(
        nodes: Vec<Node>,
        proxies: Vec<(Link, FaultProxy)>,
        databases: BTreeMap<Binary, Database>,
        backend: Backend,
        pg_server: Option<PgServer>,
        database_proxy: Option<PgProxy>,
        journal: Journal,
    ) -> Self {
        Self {
            order: nodes.iter().map(Node::id).collect(),
            nodes: nodes.into_iter().map(|n| (n.id(), n)).collect(),
            windows: proxies
                .iter()
                .map(|(l, _)| (*l, ProxyFigures::default()))
                .collect(),
            proxies: proxies.into_iter().collect(),
            pending_starts: BTreeSet::new(),
            databases,
            backend,
            locks: BTreeMap::new(),
            drops: ConnectionDrops::default(),
            pg_server,
            restarts: ServerRestarts::default(),
            restarting: None,
            database_back: None,
            database_proxy,
            database_proxy_windows: DatabaseProxyFigures::default(),
            broker: None,
            journal,
            last_fault: None,
        }
    }

    /// The node `id`.
    pub fn node(&mut self, id: NodeId) -> Result<&mut Node> {
        self.nodes
            .get_mut(&id)
            .with_context(|| format!("no {id} on the stage"))
    }

    /// The orchestrator nodes (one, or every replica).
    pub fn orchestrators(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().filter(|n| n.id().is_orchestrator())
    }

    /// What cutting the database connections did so far.
    pub fn connection_drops(&self) -> ConnectionDrops {
        self.drops
    }

    /// What restarting the PostgreSQL server did so far.
    pub fn server_restarts(&self) -> ServerRestarts {
        self.restarts
    }

    /// How long the services have had their database since it last went away: zero
    /// while the server is restarting (nothing can be accepted then), and unbounded when
    /// it never went away. A stall of the clients counts only within this.
    pub fn database_up_for(&self) -> Duration {
        match (&self.restarting, self.database_back) {
            (Some(_), _) => Duration::ZERO,
            (None, Some(back)) => back.elapsed(),
            (None, None) => Duration::MAX,
        }
    }

    fn proxy(&self, link: Link) -> Result<&FaultProxy> {
        self.proxies
            .get(&link)
            .with_context(|| format!("no proxy for {link:?}"))
    }

    /// Starts every node, participants first.
    /// `binary`'s database as the runner reaches it (never through a proxy).
    pub fn database(&self, binary: Binary) -> Result<&Database> {
        self.databases
            .get(&binary)
            .with_context(|| format!("no database for {}", binary.name()))
    }

    pub async fn start_all(&mut self) -> Result<()> {
        for id in self.order.clone() {
            self.node(id)?.start().await?;
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
            self.collect_restart(false).await?;
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
        for id in self.pending_starts.clone() {
            let node = self.node(id)?;
            if !node.is_draining()? {
                node.start().await?;
                self.pending_starts.remove(&id);
                self.journal.note(&format!("{id} started"));
            }
        }
        Ok(())
    }

    /// Restarts every process that exited without being told to (a `crash` fault), and
    /// starts the nodes whose drain ended.
    pub async fn restart_exited(&mut self) -> Result<()> {
        self.start_pending().await?;
        for node in self.nodes.values_mut() {
            let Some(status) = node.poll_exit().await? else {
                continue;
            };
            let name = node.id().name();
            self.journal.note(&format!("{name} exited: {status}"));
            if !node.is_held_down() {
                self.last_fault = Some(Instant::now());
                node.start().await?;
                self.journal.note(&format!("{name} restarted"));
            }
        }
        Ok(())
    }

    /// Ends every fault: proxies clean, paused processes resumed, participants restarted
    /// without faults (SIGTERM, then a fault-free generation), every node up.
    pub async fn calm(&mut self) -> Result<()> {
        self.journal.note("calm: every fault off");
        self.collect_restart(true).await?;
        for proxy in self.proxies.values() {
            proxy.set_mode(ProxyMode::Clean);
        }
        self.set_database_fault(PgFault::Clean, Duration::ZERO);
        for (binary, lock) in std::mem::take(&mut self.locks) {
            self.release_lock(binary, lock).await;
        }
        for node in self.nodes.values_mut() {
            node.resume()?;
        }
        self.start_broker().await?;
        self.restart_exited().await?;
        self.pending_starts.clear();
        for id in self.order.clone() {
            let node = self.node(id)?;
            if !id.is_orchestrator() {
                node.set_faults(false);
                node.terminate().await?;
            }
            node.start().await?;
        }
        self.last_fault = Some(Instant::now());
        Ok(())
    }

    /// SIGTERM to every node, orchestrators first.
    pub async fn stop_all(&mut self) -> Result<()> {
        for id in self.order.clone().into_iter().rev() {
            self.node(id)?.terminate().await?;
        }
        Ok(())
    }
}
