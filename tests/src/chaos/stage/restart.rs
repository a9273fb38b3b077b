//! Restarting the PostgreSQL server in the background, so that the schedule keeps its
//! timing meanwhile (a paused process is resumed on time, a killed one started), and
//! collecting how it went.

use anyhow::{Result, bail};

use super::Stage;
use crate::backend::{Backend, redact};
use crate::chaos::pg_server::{Restarted, restart_until_back};

impl Stage {
    /// Begins restarting the PostgreSQL server (nothing on SQLite or without a way to
    /// restart it); one due while another is under way is skipped and counted.
    pub(super) fn begin_restart(&mut self) {
        let (Backend::Postgres { server_url }, Some(server)) = (&self.backend, &self.pg_server)
        else {
            return;
        };
        if self.restarting.is_some() {
            self.restarts.skipped += 1;
            self.journal
                .note("restart skipped: the previous one is still under way");
            return;
        }
        let (server_url, server) = (server_url.clone(), server.clone());
        self.restarting = Some(tokio::spawn(async move {
            restart_until_back(&server, &server_url).await
        }));
    }

    /// Collects a restart that ended (or, with `wait`, waits for the one under way):
    /// counts it and notes every failed attempt. A server that does not answer after
    /// its restarts ends the campaign, since nothing after it would mean anything.
    pub(super) async fn collect_restart(&mut self, wait: bool) -> Result<()> {
        let Some(handle) = self.restarting.take_if(|h| wait || h.is_finished()) else {
            return Ok(());
        };
        let restarted = match handle.await {
            Ok(restarted) => restarted,
            Err(e) => Restarted {
                took: None,
                failures: vec![format!("the restart task ended: {e}")],
                answers: false,
            },
        };
        for failure in &restarted.failures {
            self.restarts.failed += 1;
            self.journal.note(&format!(
                "restarting the PostgreSQL server failed: {failure}"
            ));
        }
        if let Some(took) = restarted.took {
            self.restarts.record(took);
            self.journal.note(&format!(
                "the PostgreSQL server restarted in {} ms",
                took.as_millis()
            ));
        }
        if !restarted.answers {
            let url = match &self.backend {
                Backend::Postgres { server_url } => redact(server_url),
                Backend::Sqlite => String::new(),
            };
            bail!(
                "the PostgreSQL server {url} does not answer after being restarted: {}",
                restarted.failures.join("; ")
            );
        }
        let now = tokio::time::Instant::now();
        (self.last_fault, self.database_back) = (Some(now), Some(now));
        Ok(())
    }
}
