//! How dense a campaign's schedule is: the mean time between incidents of each kind, and
//! which orchestrator replicas are killed or paused and for how long.

use std::time::Duration;

use super::node_id::NodeId;

/// Shortest and longest downtime after a kill.
const DOWNTIME_MS: (u64, u64) = (20, 1_200);
/// Shortest and longest SIGSTOP pause.
const PAUSE_MS: (u64, u64) = (100, 2_000);

/// How dense the schedule is. A zero interval turns that kind of incident off.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// How long the schedule runs (the placing phase's longest duration).
    pub duration: Duration,
    /// Mean time between two stops (SIGKILL or SIGTERM) of the same process.
    pub kill_interval: Duration,
    /// Share of those stops that are graceful (SIGTERM) rather than SIGKILL.
    pub term_share: f64,
    /// Mean time between two pauses of the same process.
    pub pause_interval: Duration,
    /// Mean time between two incidents on the same proxy.
    pub proxy_interval: Duration,
    /// Mean time between two storage stalls of the same service's database.
    pub lock_interval: Duration,
    /// Mean time between two rounds of cutting every database connection (zero: none).
    pub connection_drop_interval: Duration,
    /// Mean time between two restarts of the PostgreSQL server (zero: none).
    pub server_restart_interval: Duration,
    /// Mean time between two fault windows of the proxy on the PostgreSQL protocol
    /// (zero: none).
    pub pg_fault_interval: Duration,
    /// Mean time between two successions of a replica started while it is still
    /// draining (zero: none; only with several replicas).
    pub overlap_interval: Duration,
    /// Orchestrator processes (1: one, unnumbered; more: replicas on one database).
    pub replicas: u32,
    /// The replicas' lease: with several replicas, their pauses and downtimes run up to a
    /// few leases, so that the others take their sagas over.
    pub lease: Duration,
    /// The replicas (1..=N) that are killed and stopped (empty: all of them).
    pub killed_replicas: Vec<u32>,
    /// The replicas (1..=N) that are paused (empty: all of them).
    pub paused_replicas: Vec<u32>,
    /// Whether the inventory participant (the four-step definition's) is in the campaign:
    /// it, its proxy and its database then take incidents too.
    pub inventory: bool,
    /// Mean time between two incidents of the NATS server (a kill, or a pause that makes
    /// the stream's leader unavailable); zero: none, or no broker in the campaign.
    pub broker_interval: Duration,
}

impl Schedule {
    /// A schedule of `duration` with one orchestrator and no incident at all.
    pub fn quiet(duration: Duration) -> Self {
        Self {
            duration,
            kill_interval: Duration::ZERO,
            term_share: 0.0,
            pause_interval: Duration::ZERO,
            proxy_interval: Duration::ZERO,
            lock_interval: Duration::ZERO,
            connection_drop_interval: Duration::ZERO,
            server_restart_interval: Duration::ZERO,
            pg_fault_interval: Duration::ZERO,
            overlap_interval: Duration::ZERO,
            replicas: 1,
            lease: Duration::from_secs(10),
            killed_replicas: Vec::new(),
            paused_replicas: Vec::new(),
            inventory: false,
            broker_interval: Duration::ZERO,
        }
    }

    /// Mean times between kills and between pauses of `node` (zero: none).
    pub(super) fn intervals(&self, node: NodeId) -> (Duration, Duration) {
        let chosen = |set: &[u32]| set.is_empty() || set.contains(&node.replica);
        if node.replica == 0 {
            return (self.kill_interval, self.pause_interval);
        }
        let kill = match chosen(&self.killed_replicas) {
            true => self.kill_interval,
            false => Duration::ZERO,
        };
        let pause = match chosen(&self.paused_replicas) {
            true => self.pause_interval,
            false => Duration::ZERO,
        };
        (kill, pause)
    }

    /// Shortest and longest downtime after a kill, and pause, of `node`: a replica's
    /// reach past its lease (others then take over), everything else's stay short.
    pub(super) fn lengths(&self, node: NodeId) -> ((u64, u64), (u64, u64)) {
        if node.replica == 0 {
            return (DOWNTIME_MS, PAUSE_MS);
        }
        let lease = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX / 4);
        (
            (DOWNTIME_MS.0, DOWNTIME_MS.1.max(lease.saturating_mul(2))),
            (PAUSE_MS.0, PAUSE_MS.1.max(lease.saturating_mul(3))),
        )
    }
}
