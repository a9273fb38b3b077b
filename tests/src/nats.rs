//! A real NATS server with JetStream for one test: its own loopback port and store
//! folder, killed when dropped. Tests that need one skip their broker half, and say so,
//! when no `nats-server` is installed (Debian's package `nats-server`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Names the `nats-server` binary when it is not on the usual paths.
pub const NATS_ENV: &str = "SAGA_TEST_NATS_SERVER";
/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `nats-server -js`.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    child: Child,
    port: u16,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server, or `None` (with a note on stderr) when none is installed.
    pub async fn start() -> Result<Option<Self>> {
        let Some(binary) = binary() else {
            eprintln!("== nats-server not found: the NATS half of this test is SKIPPED");
            return Ok(None);
        };
        let store = tempfile::Builder::new().prefix("saga-nats-").tempdir()?;
        let port = free_port()?;
        let child = spawn(&binary, port, store.path())?;
        let server = Self {
            binary,
            child,
            port,
            store,
        };
        server.wait_until_ready().await?;
        Ok(Some(server))
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and store.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await?;
        self.start_again().await
    }

    /// Kills the server (SIGKILL); it stays down until [`NatsServer::start_again`].
    pub async fn kill(&mut self) -> Result<()> {
        self.resume()?;
        self.child.kill().await?;
        Ok(())
    }

    /// Starts the server again on the same port and store, unless it runs.
    pub async fn start_again(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            self.child = spawn(&self.binary, self.port, self.store.path())?;
        }
        self.wait_until_ready().await
    }

    /// SIGSTOP: the stream's only server, and so its leader, stops answering (clients
    /// stay connected and time out) until [`NatsServer::resume`].
    pub fn pause(&self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONT (harmless on a running server).
    pub fn resume(&self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        let Some(pid) = self.child.id() else {
            return Ok(());
        };
        let pid = i32::try_from(pid).context("a pid out of range")?;
        kill(Pid::from_raw(pid), signal)
            .with_context(|| format!("cannot send {signal} to nats-server"))
    }

    /// The client URL, e.g. `nats://127.0.0.1:4222`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn wait_until_ready(&self) -> Result<()> {
        let give_up = tokio::time::Instant::now() + READY_TIMEOUT;
        while tokio::time::Instant::now() < give_up {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "nats-server did not accept connections on port {} within {READY_TIMEOUT:?}",
            self.port
        )
    }
}

fn spawn(binary: &Path, port: u16, store: &Path) -> Result<Child> {
    Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot spawn {}", binary.display()))
}

/// Whether a `nats-server` is installed (else the tests that need one skip, saying so).
pub fn installed() -> bool {
    binary().is_some()
}

/// The installed `nats-server`, if any.
fn binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var(NATS_ENV) {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join("nats-server"))
        .find(|path| path.is_file())
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
