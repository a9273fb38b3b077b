//! A service binary run as a process on a loopback port of its own (port 0), as its
//! process tests need it: started without faults, found by its `listening on` line,
//! stopped with SIGTERM.

use std::io;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

/// How long start-up and a SIGTERM exit may take.
const WAIT: Duration = Duration::from_secs(30);

/// A running service process, killed when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts `binary --listen 127.0.0.1:0 --database-url URL ARGS…` (no `FAULTS`, logs
    /// at `warn`) and waits until it says where it listens.
    pub async fn start(binary: &str, database_url: &str, args: &[&str]) -> io::Result<Self> {
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--database-url", database_url])
            .args(args)
            .env_remove("FAULTS")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let addr = timeout(WAIT, listening_addr(BufReader::new(stdout)))
            .await
            .map_err(|_| io::Error::other("no `listening on` line in time"))??;
        Ok(Self { child, addr })
    }

    /// `http://ADDR`, for a gRPC client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(mut self) -> io::Result<ExitStatus> {
        let pid = self
            .child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| io::Error::other("the process already exited"))?;
        kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(io::Error::from)?;
        timeout(WAIT, self.child.wait())
            .await
            .map_err(|_| io::Error::other("no exit after SIGTERM"))?
    }
}

async fn listening_addr(stdout: BufReader<ChildStdout>) -> io::Result<SocketAddr> {
    let mut lines = stdout.lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(addr) = line.strip_prefix("listening on ") {
            return addr.trim().parse().map_err(io::Error::other);
        }
    }
    Err(io::Error::other(
        "stdout closed before the `listening on` line",
    ))
}
