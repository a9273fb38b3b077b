//! Restarting a campaign's PostgreSQL server for real: `pg_ctl restart -m immediate` (a
//! crash-like stop; the server replays its WAL when it starts again, on the options of its
//! previous start), run as the cluster's owner when the runner is root, and whether the
//! server answers again.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::unistd::{Uid, User, geteuid};
use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::process::Command;
use tokio::time::timeout;

use super::storage::APPLICATION_NAME;
/// The server's data folder (`scripts/postgres.sh` exports it).
pub const DATA_ENV: &str = "SAGA_TEST_POSTGRES_DATA";
/// The folder of its `pg_ctl` (default: `pg_ctl` on the `PATH`).
pub const BIN_ENV: &str = "SAGA_TEST_POSTGRES_BIN";
/// The file its output is appended to after a restart (default: in the data folder).
pub const LOG_ENV: &str = "SAGA_TEST_POSTGRES_LOG";

/// How long `pg_ctl` waits for the server to stop and to accept connections again.
const PG_CTL_WAIT_SECS: u64 = 60;
/// How long a whole `pg_ctl restart` may take before it is given up.
const RESTART_BOUND: Duration = Duration::from_secs(2 * PG_CTL_WAIT_SECS + 10);
/// How long a connection attempt may take when asking whether the server answers.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes of `pg_ctl`'s output kept in an error.
const OUTPUT_TAIL: usize = 600;
/// Restarts tried in a row before a server that does not answer is given up.
const RESTART_ATTEMPTS: u32 = 3;

/// What the runner needs to restart a PostgreSQL server it can reach on the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgServer {
    /// The data folder (`pg_ctl -D`).
    pub data: PathBuf,
    /// The folder of `pg_ctl` (`None`: found on the `PATH`).
    pub bin: Option<PathBuf>,
    /// Where the restarted server writes its output (`None`: a file in `data`).
    pub log: Option<PathBuf>,
}

/// What restarting the server did over a campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServerRestarts {
    /// Restarts after which the server accepted connections again.
    pub restarts: u64,
    /// Restarts that failed (each noted in `chaos.log`).
    pub failed: u64,
    /// Restarts not begun because the previous one was still under way.
    pub skipped: u64,
    /// Time from the stop until the server accepted connections, over every restart.
    pub total_ms: u64,
    /// The longest of those.
    pub longest_ms: u64,
}

/// How one round of restarting went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarted {
    /// How long the successful restart took, if one succeeded.
    pub took: Option<Duration>,
    /// Why each failed attempt failed.
    pub failures: Vec<String>,
    /// Whether the server answers at the end.
    pub answers: bool,
}

impl ServerRestarts {
    /// Counts a restart that took `took`.
    pub fn record(&mut self, took: Duration) {
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.restarts += 1;
        self.total_ms = self.total_ms.saturating_add(ms);
        self.longest_ms = self.longest_ms.max(ms);
    }
}

impl PgServer {
    /// The server the environment names ([`DATA_ENV`], [`BIN_ENV`], [`LOG_ENV`]); `None`
    /// without a data folder.
    pub fn from_env() -> Option<Self> {
        let path = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Some(Self {
            data: path(DATA_ENV)?,
            bin: path(BIN_ENV),
            log: path(LOG_ENV),
        })
    }

    /// The program and arguments that restart the server, as `user` when given
    /// (`runuser`, since `pg_ctl` refuses to run as root).
    pub fn restart_command(&self, user: Option<&str>) -> (OsString, Vec<OsString>) {
        let pg_ctl = match &self.bin {
            Some(bin) => bin.join("pg_ctl").into_os_string(),
            None => "pg_ctl".into(),
        };
        let log = match &self.log {
            Some(log) => log.clone(),
            None => self.data.join("saga-chaos-restarts.log"),
        };
        let mut args: Vec<OsString> = vec![
            "-D".into(),
            self.data.clone().into_os_string(),
            "-l".into(),
            log.into_os_string(),
            "-m".into(),
            "immediate".into(),
            "-w".into(),
            "-t".into(),
            PG_CTL_WAIT_SECS.to_string().into(),
            "restart".into(),
        ];
        match user {
            None => (pg_ctl, args),
            Some(user) => {
                let mut wrapped: Vec<OsString> =
                    vec!["-u".into(), user.into(), "--".into(), pg_ctl];
                wrapped.append(&mut args);
                ("runuser".into(), wrapped)
            }
        }
    }

    /// Stops the server at once, as a crash would, and starts it again with the options
    /// of its previous start; returns once it accepts connections. An `Err` says why not
    /// (the server may be up, down or still recovering).
    pub async fn restart(&self) -> Result<()> {
        let user = owner_unless_self(&self.data)?;
        let (program, args) = self.restart_command(user.as_deref());
        let run = Command::new(&program)
            .args(&args)
            // Somewhere the cluster's owner may read, as `scripts/postgres.sh` does.
            .current_dir(&self.data)
            .stdin(Stdio::null())
            // A restart is never cut short: a runner that goes away leaves it to finish.
            .kill_on_drop(false)
            .output();
        let output = timeout(RESTART_BOUND, run)
            .await
            .with_context(|| format!("pg_ctl restart did not finish within {RESTART_BOUND:?}"))?
            .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&[output.stdout, output.stderr].concat())
                .trim()
                .to_string();
            let start = said.len().saturating_sub(OUTPUT_TAIL);
            let tail = said.get(start..).unwrap_or(&said);
            bail!("pg_ctl restart exited with {}: {tail}", output.status);
        }
        Ok(())
    }
}

/// Restarts `server` (reached at `server_url`), trying again while an attempt fails and
/// the server does not answer, up to [`RESTART_ATTEMPTS`] times.
pub async fn restart_until_back(server: &PgServer, server_url: &str) -> Restarted {
    let mut failures = Vec::new();
    for attempt in 1..=RESTART_ATTEMPTS {
        let began = tokio::time::Instant::now();
        match server.restart().await {
            Ok(()) => {
                return Restarted {
                    took: Some(began.elapsed()),
                    failures,
                    answers: true,
                };
            }
            Err(e) => failures.push(format!("attempt {attempt}: {e:#}")),
        }
        if answers(server_url).await {
            return Restarted {
                took: None,
                failures,
                answers: true,
            };
        }
    }
    Restarted {
        took: None,
        failures,
        answers: false,
    }
}

/// Whether the server at `server_url` accepts a connection (within a few seconds).
pub async fn answers(server_url: &str) -> bool {
    let Ok(options) = PgConnectOptions::from_str(server_url) else {
        return false;
    };
    let options = options.application_name(APPLICATION_NAME);
    match timeout(ANSWER_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            true
        }
        _ => false,
    }
}

/// The owner of `data` when the runner is root and someone else owns it (the server
/// refuses to run as root); `None` when `pg_ctl` can run as the runner itself.
fn owner_unless_self(data: &Path) -> Result<Option<String>> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    let uid = std::fs::metadata(data)
        .with_context(|| format!("cannot read the data folder {}", data.display()))?
        .uid();
    if uid == 0 {
        return Ok(None);
    }
    let user = User::from_uid(Uid::from_raw(uid))
        .with_context(|| format!("cannot look up user {uid}"))?
        .with_context(|| format!("no user has id {uid}, the owner of {}", data.display()))?;
    Ok(Some(user.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> PgServer {
        PgServer {
            data: PathBuf::from("/tmp/pg/data"),
            bin: Some(PathBuf::from("/usr/lib/postgresql/15/bin")),
            log: Some(PathBuf::from("/tmp/pg/server.log")),
        }
    }

    fn words(command: (OsString, Vec<OsString>)) -> Vec<String> {
        std::iter::once(command.0)
            .chain(command.1)
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_restart_is_an_immediate_pg_ctl_restart_that_waits_for_the_server() {
        assert_eq!(
            words(server().restart_command(None)).join(" "),
            "/usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg/data -l /tmp/pg/server.log \
             -m immediate -w -t 60 restart"
        );
    }

    #[test]
    fn as_root_the_restart_runs_as_the_clusters_owner() {
        let command = words(server().restart_command(Some("postgres")));
        assert_eq!(
            command[..5],
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                "/usr/lib/postgresql/15/bin/pg_ctl"
            ]
        );
    }

    #[test]
    fn without_a_bin_or_log_folder_pg_ctl_comes_from_the_path_and_logs_in_the_data_folder() {
        let bare = PgServer {
            bin: None,
            log: None,
            ..server()
        };
        let command = words(bare.restart_command(None));
        assert_eq!(
            command[..5],
            [
                "pg_ctl",
                "-D",
                "/tmp/pg/data",
                "-l",
                "/tmp/pg/data/saga-chaos-restarts.log"
            ]
        );
    }

    #[test]
    fn the_restarts_record_their_count_total_and_longest() {
        let mut restarts = ServerRestarts::default();
        restarts.record(Duration::from_millis(300));
        restarts.record(Duration::from_millis(900));
        assert_eq!(
            restarts,
            ServerRestarts {
                restarts: 2,
                failed: 0,
                skipped: 0,
                total_ms: 1_200,
                longest_ms: 900,
            }
        );
    }
}
