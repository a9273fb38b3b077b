//! The seeded schedule of a campaign: when each process is killed or paused and for how
//! long, when each proxy adds latency, resets connections or black-holes traffic, when a
//! database is stalled, when the services' database connections are cut, when the
//! PostgreSQL server itself is restarted and when the proxy on the PostgreSQL protocol
//! makes commits in doubt, delays replies or cuts transactions, and when a replica's
//! successor starts before it has finished draining. A pure function of the seed and the
//! settings, so a seed replays the same schedule.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::node_id::NodeId;
use super::pg_proxy::PgFault;
use super::proxy::ProxyMode;
pub use super::schedule::Schedule;
use crate::binaries::Binary;

/// The link between the orchestrator and one participant, each behind its own proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Link {
    Orders,
    Invoices,
    /// Only in campaigns on the four-step definition.
    Inventory,
}

impl Link {
    /// The place-order saga's links.
    pub const ALL: [Link; 2] = [Link::Orders, Link::Invoices];

    /// The participant behind the link.
    pub fn participant(self) -> Binary {
        match self {
            Link::Orders => Binary::OrdersSvc,
            Link::Invoices => Binary::InvoicesSvc,
            Link::Inventory => Binary::InventorySvc,
        }
    }
}

/// One thing the runner does to a process, a proxy or a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL; the process stays down until the matching `Start`.
    Kill(NodeId),
    /// SIGTERM (a graceful stop: drain, exit 0); down until the matching `Start`.
    Terminate(NodeId),
    /// Starts the next generation on the same address and database.
    Start(NodeId),
    /// SIGTERM, and the next generation started at once beside the draining one (a
    /// rolling restart that does not wait), under the same replica id or a new one.
    Succeed(NodeId, Succession),
    /// SIGSTOP, until the matching `Resume`.
    Pause(NodeId),
    /// SIGCONT.
    Resume(NodeId),
    /// Switches the proxy's mode (back to `Clean` when a window ends).
    Proxy(Link, ProxyMode),
    /// Resets every connection open through the proxy.
    ResetConnections(Link),
    /// Holds an exclusive lock on the service's database (the replicas share theirs),
    /// until `UnlockStorage`.
    LockStorage(Binary),
    UnlockStorage(Binary),
    /// Terminates every service's connection to its PostgreSQL database, so the pools
    /// must reconnect (nothing on SQLite).
    DropConnections,
    /// Restarts the PostgreSQL server itself, as a crash would (`pg_ctl restart -m
    /// immediate`; WAL recovery on start): every connection dies and none can be made
    /// until it is back (nothing on SQLite).
    RestartDatabaseServer,
    /// Opens a window of this fault, this long, on the proxy in front of the PostgreSQL
    /// server (nothing without that proxy). The proxy ends it on its own clock; the
    /// matching `Clean` (of no length) follows when it is due.
    DatabaseProxy(PgFault, Duration),
    /// SIGKILL of the NATS server; down until `StartBroker`.
    KillBroker,
    StartBroker,
    /// SIGSTOP of the NATS server (the stream's leader unavailable), until
    /// `ResumeBroker`.
    PauseBroker,
    ResumeBroker,
}

/// Which replica id a successor started beside its draining predecessor runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Succession {
    /// The predecessor's: the successor's incarnation supersedes it.
    SameId,
    /// A new one: the predecessor's sagas pass to whoever claims them.
    NewId,
}

/// An action at an offset from the start of the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    pub at: Duration,
    pub action: Action,
}

/// Everything random about a campaign, drawn from its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Time-ordered actions; the runner carries out those due before placing ends.
    pub actions: Vec<Timed>,
    /// Root of each participant generation's fault spec and `--fault-seed`.
    pub fault_seed: u64,
    /// Root of each orchestrator generation's `--seed`.
    pub orchestrator_seed: u64,
    /// Root of each order's content (which ones are over the limit) and retry jitter.
    pub load_seed: u64,
}

/// Latency windows: length, and the delay added to each chunk.
const LATENCY_WINDOW_MS: (u64, u64) = (300, 3_000);
const LATENCY_MS: (u64, u64) = (5, 250);
/// Black-hole windows.
const BLACKHOLE_MS: (u64, u64) = (200, 2_500);
/// After a reset, new connections are refused (reset too) this long.
const REFUSE_MS: (u64, u64) = (0, 600);
/// Storage stalls.
const LOCK_MS: (u64, u64) = (100, 1_500);
/// The NATS server's downtime after a kill, and its pauses.
const BROKER_DOWN_MS: (u64, u64) = (200, 3_000);
const BROKER_PAUSE_MS: (u64, u64) = (500, 4_000);
/// How far apart two rounds of cutting database connections are, at least.
const MIN_DROP_GAP: Duration = Duration::from_millis(200);
/// How far apart two restarts of the database server are, at least.
const MIN_RESTART_GAP: Duration = Duration::from_secs(3);

impl Plan {
    /// Draws the whole campaign from `seed`.
    pub fn generate(seed: u64, schedule: &Schedule) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let fault_seed = rng.random();
        let orchestrator_seed = rng.random();
        let load_seed = rng.random();
        let mut actions = Vec::new();
        // With one orchestrator, the order of these draws is that of the campaigns before
        // replicas existed, so their seeds replay the same schedule.
        for node in NodeId::all(schedule.replicas) {
            process_incidents(&mut rng, node, schedule, &mut actions);
        }
        for link in Link::ALL {
            proxy_incidents(&mut rng, link, schedule, &mut actions);
        }
        for binary in Binary::ALL {
            storage_incidents(&mut rng, binary, schedule, &mut actions);
        }
        let drops = (schedule.connection_drop_interval, MIN_DROP_GAP);
        rounds(
            &mut rng,
            schedule,
            drops,
            Action::DropConnections,
            &mut actions,
        );
        // Drawn last, so a seed replays every other incident as it did before restarts.
        let restarts = (schedule.server_restart_interval, MIN_RESTART_GAP);
        rounds(
            &mut rng,
            schedule,
            restarts,
            Action::RestartDatabaseServer,
            &mut actions,
        );
        // After the restarts, for the same reason.
        pg_faults::database_proxy_incidents(&mut rng, schedule, &mut actions);
        // After everything else, for the same reason.
        for node in NodeId::orchestrators(schedule.replicas) {
            successions::successions(&mut rng, node, schedule, &mut actions);
        }
        // The inventory's last of all, so that a place-order seed replays as before.
        if schedule.inventory {
            process_incidents(&mut rng, NodeId::INVENTORY, schedule, &mut actions);
            proxy_incidents(&mut rng, Link::Inventory, schedule, &mut actions);
            storage_incidents(&mut rng, Binary::InventorySvc, schedule, &mut actions);
        }
        // The broker's after all that, for the same reason.
        broker_incidents(&mut rng, schedule, &mut actions);
        actions.sort_by_key(|t| t.at);
        Self {
            actions,
            fault_seed,
            orchestrator_seed,
            load_seed,
        }
    }
}

/// Kills and pauses of one process, never overlapping: the next incident starts a
/// random gap after the previous one ended.
fn process_incidents(rng: &mut StdRng, node: NodeId, s: &Schedule, out: &mut Vec<Timed>) {
    let (kill_interval, pause_interval) = s.intervals(node);
    let (downtime, pause) = s.lengths(node);
    let kill_rate = rate(kill_interval);
    let pause_rate = rate(pause_interval);
    let total = kill_rate + pause_rate;
    if total <= 0.0 {
        return;
    }
    let mean_gap = Duration::from_secs_f64(1.0 / total);
    let mut at = gap(rng, mean_gap);
    // Each incident moves `at` forward by at least half the mean gap: bounded.
    while at < s.duration {
        let (first, second, length) = if rng.random_bool((kill_rate / total).clamp(0.0, 1.0)) {
            let down = millis(rng, downtime);
            let stop = match rng.random_bool(s.term_share.clamp(0.0, 1.0)) {
                true => Action::Terminate(node),
                false => Action::Kill(node),
            };
            (stop, Action::Start(node), down)
        } else {
            let paused = millis(rng, pause);
            (Action::Pause(node), Action::Resume(node), paused)
        };
        out.push(Timed { at, action: first });
        out.push(Timed {
            at: at + length,
            action: second,
        });
        at += length + gap(rng, mean_gap);
    }
}

/// Kills and pauses of the NATS server, never overlapping.
fn broker_incidents(rng: &mut StdRng, s: &Schedule, out: &mut Vec<Timed>) {
    if s.broker_interval.is_zero() {
        return;
    }
    let mut at = gap(rng, s.broker_interval);
    while at < s.duration {
        let (first, second, length) = match rng.random_bool(0.5) {
            true => (
                Action::KillBroker,
                Action::StartBroker,
                millis(rng, BROKER_DOWN_MS),
            ),
            false => (
                Action::PauseBroker,
                Action::ResumeBroker,
                millis(rng, BROKER_PAUSE_MS),
            ),
        };
        out.push(Timed { at, action: first });
        out.push(Timed {
            at: at + length,
            action: second,
        });
        at += length + gap(rng, s.broker_interval);
    }
}

/// Latency, reset and black-hole windows of one proxy, never overlapping.
fn proxy_incidents(rng: &mut StdRng, link: Link, s: &Schedule, out: &mut Vec<Timed>) {
    if s.proxy_interval.is_zero() {
        return;
    }
    let mut at = gap(rng, s.proxy_interval);
    while at < s.duration {
        let (mode, length) = match rng.random_range(0..3) {
            0 => (
                ProxyMode::Latency(millis(rng, LATENCY_MS)),
                millis(rng, LATENCY_WINDOW_MS),
            ),
            1 => (ProxyMode::Blackhole, millis(rng, BLACKHOLE_MS)),
            _ => {
                out.push(Timed {
                    at,
                    action: Action::ResetConnections(link),
                });
                (ProxyMode::Refuse, millis(rng, REFUSE_MS))
            }
        };
        out.push(Timed {
            at,
            action: Action::Proxy(link, mode),
        });
        out.push(Timed {
            at: at + length,
            action: Action::Proxy(link, ProxyMode::Clean),
        });
        at += length + gap(rng, s.proxy_interval);
    }
}

/// Storage stalls of one service's database, never overlapping.
fn storage_incidents(rng: &mut StdRng, binary: Binary, s: &Schedule, out: &mut Vec<Timed>) {
    if s.lock_interval.is_zero() {
        return;
    }
    let mut at = gap(rng, s.lock_interval);
    while at < s.duration {
        let length = millis(rng, LOCK_MS);
        out.push(Timed {
            at,
            action: Action::LockStorage(binary),
        });
        out.push(Timed {
            at: at + length,
            action: Action::UnlockStorage(binary),
        });
        at += length + gap(rng, s.lock_interval);
    }
}

/// Rounds of `action` (cutting every database connection, restarting the server) at
/// random gaps around `interval`, never closer than `min_gap`; none if it is zero.
fn rounds(
    rng: &mut StdRng,
    s: &Schedule,
    (interval, min_gap): (Duration, Duration),
    action: Action,
    out: &mut Vec<Timed>,
) {
    if interval.is_zero() {
        return;
    }
    let mut at = gap(rng, interval);
    while at < s.duration {
        out.push(Timed { at, action });
        at += gap(rng, interval).max(min_gap);
    }
}

fn rate(interval: Duration) -> f64 {
    match interval.as_secs_f64() {
        secs if secs > 0.0 => 1.0 / secs,
        _ => 0.0,
    }
}

/// A gap of 0.5 to 1.5 times `mean`.
fn gap(rng: &mut StdRng, mean: Duration) -> Duration {
    mean.mul_f64(rng.random_range(0.5..1.5))
}

fn millis(rng: &mut StdRng, (low, high): (u64, u64)) -> Duration {
    Duration::from_millis(rng.random_range(low..=high))
}

/// Mixes a root seed with a few numbers into a new seed (splitmix64 steps), so that a
/// generation's draws depend only on the root and its coordinates.
pub fn derive(root: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(splitmix(root), |acc, part| {
        splitmix(acc ^ splitmix(part.wrapping_add(0x9E37_79B9_7F4A_7C15)))
    })
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

mod pg_faults;
mod successions;
#[cfg(test)]
mod tests;
