//! Faults given as `--faults @FILE`: the rules in FILE, read again on every SIGHUP so
//! that a test (or an engineer) can start and end an outage while the service runs.

use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::StartupError;
use crate::faults::Faults;

/// A faults file and the SIGHUPs that say to read it again. The signal is listened for
/// from the start, before the service says it is ready: a SIGHUP that arrives early is
/// kept for the reload task, never taken for the default "terminate".
#[derive(Debug)]
pub struct FaultsFile {
    path: String,
    hangups: Signal,
}

impl FaultsFile {
    /// The file `spec` names when it is `@FILE`, with its first reading; `None` for a
    /// spec given inline.
    pub fn open(spec: &str) -> Result<Option<(Self, String)>, StartupError> {
        let Some(path) = spec.strip_prefix('@') else {
            return Ok(None);
        };
        let hangups = signal(SignalKind::hangup()).map_err(|source| StartupError::FaultsFile {
            path: path.to_string(),
            source,
        })?;
        let text = read(path)?;
        let file = Self {
            path: path.to_string(),
            hangups,
        };
        Ok(Some((file, text)))
    }

    /// Puts the file's rules in force on every SIGHUP until `shutdown`; a file that
    /// cannot be read or parsed leaves the rules as they were, and says why in the log.
    pub async fn reload_on_sighup(mut self, faults: Arc<Faults>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                Some(()) = self.hangups.recv() => {}
                () = shutdown.cancelled() => return,
            }
            let replaced = read(&self.path).and_then(|spec| {
                faults.replace(&spec)?;
                Ok(spec)
            });
            let file = &self.path;
            match replaced {
                Ok(spec) => tracing::info!(faults = %spec, file, "SIGHUP: faults replaced"),
                Err(error) => {
                    let error = crate::telemetry::error_chain(&error);
                    tracing::error!(%error, file, "SIGHUP: faults kept as they were");
                }
            }
        }
    }
}

fn read(path: &str) -> Result<String, StartupError> {
    std::fs::read_to_string(path).map_err(|source| StartupError::FaultsFile {
        path: path.to_string(),
        source,
    })
}
