//! Carrying out one action of the plan on the stage, and what the proxies did.

use std::collections::BTreeMap;

use anyhow::Result;
use tokio::time::Instant;

use super::{ProxyFigures, Stage};
use crate::backend::Backend;
use crate::binaries::Binary;
use crate::chaos::plan::{Action, Link};
use crate::chaos::proxy::ProxyMode;
use crate::chaos::storage::{self, StorageLock, postgres_names};

impl Stage {
    /// Carries out one action of the plan.
    pub async fn apply(&mut self, action: Action) -> Result<()> {
        self.journal.note(&format!("{action:?}"));
        match action {
            Action::Kill(id) => self.node(id)?.kill().await?,
            Action::Terminate(id) => self.node(id)?.term()?,
            Action::Start(id) => {
                self.pending_starts.insert(id);
                self.start_pending().await?;
            }
            Action::Succeed(id, succession) => {
                if self.node(id)?.succeed(succession).await? {
                    self.journal
                        .note(&format!("{id} succeeded ({succession:?})"));
                }
            }
            Action::Pause(id) => self.node(id)?.pause()?,
            Action::Resume(id) => self.node(id)?.resume()?,
            Action::Proxy(link, mode) => {
                self.proxy(link)?.set_mode(mode);
                let figures = self.windows.entry(link).or_default();
                match mode {
                    ProxyMode::Clean => {}
                    ProxyMode::Latency(_) => figures.latency_windows += 1,
                    ProxyMode::Blackhole => figures.blackhole_windows += 1,
                    ProxyMode::Refuse => figures.refuse_windows += 1,
                }
            }
            Action::LockStorage(binary) => self.lock_storage(binary).await?,
            Action::UnlockStorage(binary) => {
                if let Some(lock) = self.locks.remove(&binary) {
                    self.release_lock(binary, lock).await;
                }
            }
            Action::ResetConnections(link) => {
                self.proxy(link)?.reset_connections();
                self.windows.entry(link).or_default().reset_events += 1;
            }
            Action::DropConnections => self.drop_connections().await?,
            Action::RestartDatabaseServer => self.begin_restart(),
            Action::DatabaseProxy(fault, length) => self.set_database_fault(fault, length),
            Action::KillBroker => self.kill_broker().await?,
            Action::StartBroker => self.start_broker().await?,
            Action::PauseBroker => self.pause_broker()?,
            Action::ResumeBroker => self.resume_broker()?,
        }
        self.last_fault = Some(Instant::now());
        Ok(())
    }

    /// Holds a lock on `binary`'s database, unless it stays busy; the stall is counted on
    /// the (first) node that runs `binary`. On PostgreSQL a lock that cannot be taken
    /// (the server is down) is noted and skipped.
    async fn lock_storage(&mut self, binary: Binary) -> Result<()> {
        let Some(database) = self.databases.get(&binary) else {
            return Ok(());
        };
        let lock = match StorageLock::take(database).await {
            Ok(lock) => lock,
            Err(e) if matches!(self.backend, Backend::Postgres { .. }) => {
                self.journal
                    .note(&format!("no stall of {}: {e:#}", binary.name()));
                None
            }
            Err(e) => return Err(e),
        };
        if let Some(lock) = lock {
            self.locks.insert(binary, lock);
            if let Some(node) = self.nodes.values_mut().find(|n| n.binary() == binary) {
                node.count_storage_stall();
            }
        }
        Ok(())
    }

    /// Ends a stall. A lock that cannot be released the usual way lost its connection
    /// (the server restarted, say), and the lock ended with it: noted, not fatal.
    pub(super) async fn release_lock(&mut self, binary: Binary, lock: StorageLock) {
        if let Err(e) = lock.release().await {
            self.journal.note(&format!(
                "the stall of {} ended with its connection: {e:#}",
                binary.name()
            ));
        }
    }

    /// Terminates every service connection to PostgreSQL (nothing on SQLite). A round
    /// that cannot reach the server is counted and noted, not fatal.
    async fn drop_connections(&mut self) -> Result<()> {
        let Backend::Postgres { server_url } = &self.backend else {
            return Ok(());
        };
        let names = postgres_names(&self.databases)?;
        self.drops.rounds += 1;
        match storage::drop_connections(server_url, &names).await {
            Ok(terminated) => {
                self.drops.terminated += terminated;
                self.journal
                    .note(&format!("terminated {terminated} database connections"));
            }
            Err(e) => {
                self.drops.failed_rounds += 1;
                self.journal
                    .note(&format!("cannot cut database connections: {e:#}"));
            }
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
