//! One service process: spawned with its flags, ready once it prints `listening on
//! IP:PORT` (after `http listening on IP:PORT` when it serves HTTP too), stopped with
//! SIGTERM (a clean stop) or SIGKILL (a crash).

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// How long a process may take from spawn to its `listening on` line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a signalled process may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of a service log shown when something about the service goes wrong.
pub const LOG_TAIL_LINES: usize = 30;

/// A running service. Dropping it kills the process (`kill_on_drop`).
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    child: Child,
    addr: SocketAddr,
    /// The HTTP listener's address (`--http-listen`), when it announced one.
    http_addr: Option<SocketAddr>,
    log: PathBuf,
    _stdout: TaskGuard,
}

impl ServiceProcess {
    /// Spawns `binary args…` with stderr appended to `log`, and returns once it announced
    /// its address. A process that exits or stays silent is reported with its log's tail.
    pub async fn spawn(name: &str, binary: &Path, args: &[String], log: &Path) -> Result<Self> {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open the log file {}", log.display()))?;
        let mut child = Command::new(binary)
            .args(args)
            // Only the flags configure a service: no setting leaks in from the environment.
            .env_clear()
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot spawn {name} ({})", binary.display()))?;
        let stdout = child.stdout.take().context("stdout is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = timeout(READY_TIMEOUT, read_address(&mut lines)).await;
        let (addr, http_addr) = match ready {
            Ok(Ok(addresses)) => addresses,
            failed => {
                let _ = child.start_kill();
                let status = timeout(EXIT_TIMEOUT, child.wait()).await;
                let why = match failed {
                    Ok(Err(e)) => e,
                    _ => anyhow!("no `listening on` line within {READY_TIMEOUT:?}"),
                };
                bail!(
                    "{name} did not start ({why:#}; exit: {status:?}); args {args:?}; log tail:\n{}",
                    log_tail(log, LOG_TAIL_LINES)
                );
            }
        };
        // Keep reading stdout so that a later print never fails on a closed pipe.
        let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            name: name.to_string(),
            child,
            addr,
            http_addr,
            log: log.to_path_buf(),
            _stdout: TaskGuard(drain),
        })
    }

    /// The address the service announced.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the service's HTTP listener (`--http-listen`), if it has one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The service's `http://IP:PORT` URL for gRPC clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id, while the process has not been reaped.
    pub fn pid(&self) -> Option<Pid> {
        self.child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("cannot check whether {} exited", self.name))
    }

    /// Sends `signal` (e.g. SIGSTOP, SIGCONT) without waiting for anything.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{} has already exited", self.name))?;
        kill(pid, signal).with_context(|| format!("cannot send {signal} to {}", self.name))
    }

    /// Waits for the process to exit on its own.
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        self.child
            .wait()
            .await
            .with_context(|| format!("cannot wait for {}", self.name))
    }

    /// Sends SIGKILL (a crash: nothing is drained) and waits for the exit.
    pub async fn kill(&mut self) -> Result<ExitStatus> {
        self.child
            .start_kill()
            .with_context(|| format!("cannot SIGKILL {}", self.name))?;
        self.wait_bounded("SIGKILL").await
    }

    /// Sends SIGTERM (drain, then exit 0) and waits for the exit.
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        if let Some(pid) = self.pid() {
            kill(pid, Signal::SIGTERM).with_context(|| format!("cannot SIGTERM {}", self.name))?;
        }
        self.wait_bounded("SIGTERM").await
    }

    /// Waits for the exit that `signal` (already sent) asked for, within a bound.
    pub(crate) async fn wait_bounded(&mut self, signal: &str) -> Result<ExitStatus> {
        match timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.with_context(|| format!("cannot wait for {}", self.name)),
            Err(_) => bail!(
                "{} did not exit within {EXIT_TIMEOUT:?} of {signal}; log tail:\n{}",
                self.name,
                log_tail(&self.log, LOG_TAIL_LINES)
            ),
        }
    }
}

/// The gRPC address of the `listening on` line, and the HTTP one of an `http listening
/// on` line before it (services print the HTTP line first).
async fn read_address(
    lines: &mut Lines<BufReader<ChildStdout>>,
) -> Result<(SocketAddr, Option<SocketAddr>)> {
    let mut http = None;
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("http listening on ") {
            let addr = addr.parse();
            http = Some(addr.with_context(|| format!("bad address in {line:?}"))?);
        } else if let Some(addr) = line.strip_prefix("listening on ") {
            let addr = addr.parse();
            return Ok((
                addr.with_context(|| format!("bad address in {line:?}"))?,
                http,
            ));
        }
    }
    bail!("stdout closed before a `listening on` line (the process exited)")
}

/// The last `n` lines of a log file, or a note saying it could not be read.
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Aborts a background task when dropped, so nothing outlives its owner.
#[derive(Debug)]
pub struct TaskGuard(pub JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
