//! A participant service and its watcher. Supervised, it is started again on the same
//! address and database whenever it exits (a `crash` fault), like a process manager would;
//! unsupervised, an exit is only recorded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::process::ServiceProcess;

/// Signals a participant's running process (e.g. SIGSTOP, then SIGCONT, for an outage).
#[derive(Debug, Clone)]
pub struct Signaller {
    name: &'static str,
    pid: Arc<AtomicI32>,
}

impl Signaller {
    pub fn send(&self, signal: Signal) -> Result<()> {
        match self.pid.load(Ordering::SeqCst) {
            0 => bail!("{} is not running", self.name),
            pid => kill(Pid::from_raw(pid), signal)
                .with_context(|| format!("cannot send {signal} to {}", self.name)),
        }
    }
}

/// How many times a restart is tried (the port may take a moment to free up).
const RESPAWN_ATTEMPTS: u32 = 50;
const RESPAWN_PAUSE: Duration = Duration::from_millis(100);
/// How long a stopped participant may take to finish its watcher.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything needed to start one participant process, now or again later.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: &'static str,
    pub binary: PathBuf,
    /// Flags other than `--listen`, `--faults` and `--fault-seed`.
    pub args: Vec<String>,
    pub faults: String,
    pub fault_seed: u64,
    pub log: PathBuf,
}

impl Launch {
    /// Starts generation `generation` listening on `listen`. Each generation draws its
    /// faults from its own seed, so a restarted process does not replay the very draw
    /// that crashed its predecessor.
    pub async fn spawn(&self, listen: &str, generation: u64) -> Result<ServiceProcess> {
        let mut args = vec!["--listen".to_string(), listen.to_string()];
        args.extend(self.args.iter().cloned());
        if !self.faults.is_empty() {
            args.push("--faults".into());
            args.push(self.faults.clone());
            args.push("--fault-seed".into());
            args.push(self.fault_seed.wrapping_add(generation).to_string());
        }
        ServiceProcess::spawn(self.name, &self.binary, &args, &self.log).await
    }
}

type Exits = Arc<Mutex<Vec<ExitStatus>>>;

/// A running participant. Dropping it kills the process and stops the watcher.
#[derive(Debug)]
pub struct Participant {
    name: &'static str,
    addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    exits: Exits,
    /// The current generation's process id (0 while none runs).
    pid: Arc<AtomicI32>,
    stop: Option<oneshot::Sender<()>>,
    watcher: Option<JoinHandle<Result<ExitStatus>>>,
}

impl Participant {
    /// Starts the participant on a free loopback port and watches it.
    pub async fn start(launch: Launch, supervised: bool) -> Result<Self> {
        let process = launch.spawn("127.0.0.1:0", 0).await?;
        let addr = process.addr();
        let http_addr = process.http_addr();
        let exits = Exits::default();
        let pid = Arc::new(AtomicI32::new(0));
        let (stop, stopped) = oneshot::channel();
        let watcher = tokio::spawn(watch(
            launch.clone(),
            process,
            supervised,
            (exits.clone(), pid.clone()),
            stopped,
        ));
        Ok(Self {
            name: launch.name,
            addr,
            http_addr,
            exits,
            pid,
            stop: Some(stop),
            watcher: Some(watcher),
        })
    }

    /// The address the participant keeps across restarts.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first process's HTTP listener (`--http-listen`: metrics), if it has one (a
    /// restarted process listens on another port).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The service's `http://IP:PORT` URL for gRPC clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The exits seen so far, oldest first (each one was followed by a restart when
    /// supervised).
    pub fn exits(&self) -> Vec<ExitStatus> {
        self.exits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A handle that signals whichever process of this participant runs at the time.
    pub fn signaller(&self) -> Signaller {
        Signaller {
            name: self.name,
            pid: self.pid.clone(),
        }
    }

    /// Stops watching and sends SIGTERM; returns the exit of the last process.
    pub async fn stop(&mut self) -> Result<ExitStatus> {
        let (Some(stop), Some(watcher)) = (self.stop.take(), self.watcher.take()) else {
            bail!("{} was already stopped", self.name);
        };
        let _ = stop.send(());
        tokio::time::timeout(STOP_TIMEOUT, watcher)
            .await
            .with_context(|| format!("{} did not stop within {STOP_TIMEOUT:?}", self.name))?
            .with_context(|| format!("the watcher of {} failed", self.name))?
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
    }
}

/// Waits for the process to exit, records the exit and, when supervised, starts the
/// next generation on the same address. Returns the final exit.
async fn watch(
    launch: Launch,
    mut process: ServiceProcess,
    supervised: bool,
    (exits, pid): (Exits, Arc<AtomicI32>),
    mut stop: oneshot::Receiver<()>,
) -> Result<ExitStatus> {
    let listen = process.addr().to_string();
    let mut generation = 0;
    loop {
        pid.store(process.pid().map_or(0, Pid::as_raw), Ordering::SeqCst);
        let status = tokio::select! {
            status = process.wait() => status?,
            _ = &mut stop => return process.terminate().await,
        };
        pid.store(0, Ordering::SeqCst);
        exits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(status);
        if !supervised {
            return Ok(status);
        }
        generation += 1;
        process = respawn(&launch, &listen, generation).await?;
    }
}

async fn respawn(launch: &Launch, listen: &str, generation: u64) -> Result<ServiceProcess> {
    let mut last_error = None;
    for _ in 0..RESPAWN_ATTEMPTS {
        match launch.spawn(listen, generation).await {
            Ok(process) => return Ok(process),
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(RESPAWN_PAUSE).await;
    }
    match last_error {
        Some(e) => Err(e.context(format!("cannot restart {} on {listen}", launch.name))),
        None => bail!("cannot restart {} on {listen}", launch.name),
    }
}
