//! One service process of a campaign, on its fixed address and database for the whole
//! run: started again after every kill or crash as its next generation (new faults for a
//! participant, a new `--seed` for an orchestrator), paused and resumed, succeeded while
//! it drains (a replica), and counted.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use nix::unistd::Pid;
use serde::Serialize;

use super::node_id::NodeId;
use super::plan::derive;
use super::spec::{self, FaultSpec};
use crate::backend::Database;
use crate::binaries::Binary;
use crate::process::ServiceProcess;

/// How many times a start is tried (the port may take a moment to free up).
const START_ATTEMPTS: u32 = 50;
const START_PAUSE: Duration = Duration::from_millis(100);
/// `service_kit::faults::CRASH_EXIT_CODE`: the exit of an injected `crash`.
pub const CRASH_EXIT_CODE: i32 = 86;

/// What happened to one process over a campaign.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeFigures {
    /// Generations started (the first start included).
    pub starts: u64,
    /// SIGKILLs of the schedule.
    pub kills: u64,
    /// SIGTERMs of the schedule (graceful restarts).
    pub terms: u64,
    /// SIGSTOP pauses of the schedule.
    pub pauses: u64,
    /// Exits by an injected `crash` fault.
    pub crashes: u64,
    /// Deliberate outages (the liveness window).
    pub outages: u64,
    /// Successors started while their predecessor was still draining (replicas)...
    pub overlaps: u64,
    /// ...of which under a new replica id.
    pub new_ids: u64,
    /// Storage stalls (an exclusive lock held on the database).
    pub storage_stalls: u64,
    /// Every other exit the runner did not cause, described.
    pub unexpected_exits: Vec<String>,
    /// Fault rules by kind over every generation started.
    pub fault_rules: BTreeMap<&'static str, u64>,
}

/// How to start one service, again and again.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub id: NodeId,
    pub path: PathBuf,
    pub listen: SocketAddr,
    /// Flags other than `--listen`, `--database-url`, `--replica-id` and the
    /// per-generation ones.
    pub args: Vec<String>,
    /// stderr of every generation, appended.
    pub log: PathBuf,
    /// Its `--database-url` (the replicas of a campaign share one).
    pub database: Database,
    /// Root of the per-generation seeds (fault specs, or the orchestrator's `--seed`).
    pub seed_root: u64,
    /// Scale of the drawn fault probabilities (participants).
    pub fault_intensity: f64,
    /// Also draw faults for the direct patterns' RPCs and the outbox relay (orders-svc).
    pub direct_faults: bool,
    /// Give every generation the same seed (the orchestrator's `--seed`), as an operator
    /// restarting it with the same flags would.
    pub same_seed_every_start: bool,
}

impl NodeSpec {
    /// A service run by a test outside a campaign: named after its binary, logging to
    /// `dir`, with no faults drawn and one seed.
    pub fn lone(
        binary: Binary,
        bins: &Path,
        listen: SocketAddr,
        args: Vec<String>,
        dir: &Path,
        database: Database,
    ) -> Result<Self> {
        Ok(Self {
            id: NodeId::of(binary),
            path: binary.path_in(bins)?,
            listen,
            args,
            log: dir.join(format!("{}.log", binary.name())),
            database,
            seed_root: 1,
            fault_intensity: 0.0,
            direct_faults: false,
            same_seed_every_start: false,
        })
    }
}

/// A service under the campaign's control.
#[derive(Debug)]
pub struct Node {
    spec: NodeSpec,
    process: Option<ServiceProcess>,
    /// Earlier generations still draining beside it after SIGTERM, and since when.
    predecessors: Vec<(ServiceProcess, tokio::time::Instant)>,
    /// A replica's `--replica-id` (its name, until a succession gives it a new one).
    replica_id: Option<String>,
    paused: bool,
    /// Down on purpose (killed by the schedule) until the schedule starts it again.
    held_down: bool,
    /// SIGTERM was sent then; the process is draining.
    terminating: Option<tokio::time::Instant>,
    faults_on: bool,
    generation: u64,
    figures: NodeFigures,
}

impl Node {
    /// A node not yet started; participants inject faults until [`Node::set_faults`].
    pub fn new(spec: NodeSpec) -> Self {
        let replica_id = (spec.id.replica > 0).then(|| spec.id.name());
        Self {
            spec,
            process: None,
            predecessors: Vec::new(),
            replica_id,
            paused: false,
            held_down: false,
            terminating: None,
            faults_on: true,
            generation: 0,
            figures: NodeFigures::default(),
        }
    }

    /// Which service this node runs.
    pub fn binary(&self) -> Binary {
        self.spec.id.binary
    }

    /// The node's name.
    pub fn id(&self) -> NodeId {
        self.spec.id
    }

    /// What happened to the node so far.
    pub fn figures(&self) -> &NodeFigures {
        &self.figures
    }

    /// The node's database.
    pub fn database(&self) -> &Database {
        &self.spec.database
    }

    /// Counts a storage stall of the node's database.
    pub fn count_storage_stall(&mut self) {
        self.figures.storage_stalls += 1;
    }

    /// The running process's id (for CPU accounting).
    pub fn pid(&self) -> Option<Pid> {
        self.process.as_ref().and_then(ServiceProcess::pid)
    }

    /// Whether a process is running (paused or not).
    pub fn is_up(&self) -> bool {
        self.process.is_some()
    }

    /// Whether the schedule took the node down and has not started it again.
    pub fn is_held_down(&self) -> bool {
        self.held_down
    }

    /// Turns drawing faults for the next generations on or off.
    pub fn set_faults(&mut self, on: bool) {
        self.faults_on = on;
    }

    /// Starts the next generation unless one is running; `held_down` ends.
    pub async fn start(&mut self) -> Result<()> {
        self.held_down = false;
        self.finish_termination().await?;
        if self.process.is_some() {
            return Ok(());
        }
        let generation = self.generation;
        self.generation += 1;
        let mut args = vec![
            "--listen".to_string(),
            self.spec.listen.to_string(),
            "--database-url".to_string(),
            self.spec.database.url(),
        ];
        args.extend(self.spec.args.iter().cloned());
        let faults = self.generation_flags(generation, &mut args);
        self.mark_log(generation, &faults);
        let name = self.spec.id.name();
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match ServiceProcess::spawn(&name, &self.spec.path, &args, &self.spec.log).await {
                Ok(process) => {
                    self.process = Some(process);
                    self.paused = false;
                    self.figures.starts += 1;
                    for (kind, n) in faults.rules_by_kind() {
                        *self.figures.fault_rules.entry(kind).or_default() += n;
                    }
                    return Ok(());
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(START_PAUSE).await;
        }
        let error = last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt was made"));
        Err(error.context(format!(
            "cannot start {name} generation {generation} on {}",
            self.spec.listen
        )))
    }

    /// The per-generation flags: a participant's faults, the orchestrator's seed.
    fn generation_flags(&self, generation: u64, args: &mut Vec<String>) -> FaultSpec {
        let spec = &self.spec;
        if spec.id.is_orchestrator() {
            let nth = if spec.same_seed_every_start {
                0
            } else {
                generation
            };
            let seed = derive(spec.seed_root, &[nth]);
            args.extend(["--seed".to_string(), seed.to_string()]);
            if let Some(id) = &self.replica_id {
                args.extend(["--replica-id".to_string(), id.clone()]);
            }
            return FaultSpec::none();
        }
        if !self.faults_on {
            return FaultSpec::none();
        }
        let faults = spec::draw(
            spec.seed_root,
            spec.id.binary,
            generation,
            spec.fault_intensity,
            spec.direct_faults,
        );
        if !faults.spec.is_empty() {
            args.extend([
                "--faults".to_string(),
                faults.spec.clone(),
                "--fault-seed".to_string(),
                faults.seed.to_string(),
            ]);
        }
        faults
    }

    /// A line in the service's log between generations, to read it afterwards.
    fn mark_log(&self, generation: u64, faults: &FaultSpec) {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log);
        if let Ok(mut log) = opened {
            let _ = writeln!(
                log,
                "===== saga-chaos: generation {generation} of {} (faults {:?}) =====",
                self.spec.id.name(),
                faults.spec
            );
        }
    }
}

mod signals;
mod succession;
