//! Stopping, pausing and watching a node's process: SIGKILL, SIGTERM (waited for within a
//! bound), SIGSTOP/SIGCONT, and exits the runner did not cause.

use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Result;
use nix::sys::signal::Signal;

use super::{CRASH_EXIT_CODE, Node};

/// How long a process may take to exit after SIGTERM (the orchestrator drains for up to
/// `--drain-timeout-ms`, 5 s by default).
pub(super) const TERM_BOUND: Duration = Duration::from_secs(10);

impl Node {
    /// SIGKILL (a scheduled crash); the node stays down until [`Node::start`].
    pub async fn kill(&mut self) -> Result<()> {
        if self.take_down().await? {
            self.figures.kills += 1;
        }
        self.held_down = true;
        Ok(())
    }

    /// SIGKILL for a deliberate outage; the node stays down until [`Node::start`].
    pub async fn outage(&mut self) -> Result<()> {
        if self.take_down().await? {
            self.figures.outages += 1;
        }
        self.held_down = true;
        Ok(())
    }

    async fn take_down(&mut self) -> Result<bool> {
        let Some(mut process) = self.process.take() else {
            return Ok(false);
        };
        self.paused = false;
        self.terminating = None;
        process.kill().await?;
        Ok(true)
    }

    /// SIGTERM without waiting (the loop notices the exit); the node stays down until
    /// [`Node::start`], which waits for the drain to end.
    pub fn term(&mut self) -> Result<()> {
        self.held_down = true;
        if self.terminating.is_some() {
            return Ok(());
        }
        self.resume()?;
        if let Some(process) = &self.process {
            process.signal(Signal::SIGTERM)?;
            self.terminating = Some(tokio::time::Instant::now());
            self.figures.terms += 1;
        }
        Ok(())
    }

    /// Waits for a process stopped with SIGTERM to exit, up to [`TERM_BOUND`] after the
    /// signal; one that does not is killed and recorded.
    pub(super) async fn finish_termination(&mut self) -> Result<()> {
        let Some(since) = self.terminating else {
            return Ok(());
        };
        if let Some(process) = &mut self.process {
            // Either it exits in time or `end_termination` kills it.
            let _ = tokio::time::timeout_at(since + TERM_BOUND, process.wait()).await;
        }
        self.end_termination().await
    }

    /// Whether a process stopped with SIGTERM is still draining, within [`TERM_BOUND`]:
    /// the node cannot start again yet.
    pub fn is_draining(&mut self) -> Result<bool> {
        let Some(since) = self.terminating else {
            return Ok(false);
        };
        let Some(process) = &mut self.process else {
            self.terminating = None;
            return Ok(false);
        };
        Ok(process.try_exit()?.is_none() && tokio::time::Instant::now() < since + TERM_BOUND)
    }

    /// Ends a SIGTERM: records an unclean exit, or kills and records a process that is
    /// still running past [`TERM_BOUND`].
    async fn end_termination(&mut self) -> Result<()> {
        let Some(since) = self.terminating.take() else {
            return Ok(());
        };
        let Some(mut process) = self.process.take() else {
            return Ok(());
        };
        let name = self.spec.id.name();
        let problem = match process.try_exit()? {
            Some(status) if status.success() => None,
            Some(status) if self.crashed(status) => None,
            Some(status) => Some(format!("{name} exited with {status} on SIGTERM")),
            None => {
                process.kill().await?;
                Some(format!(
                    "{name} did not exit within {:.1}s of SIGTERM",
                    since.elapsed().as_secs_f64()
                ))
            }
        };
        self.figures.unexpected_exits.extend(problem);
        self.paused = false;
        Ok(())
    }

    /// Whether `status` is a participant's drawn `crash` fault (it may fire while the
    /// participant drains after SIGTERM too); counted as a crash, not as unexpected.
    fn crashed(&mut self, status: ExitStatus) -> bool {
        let crash = status.code() == Some(CRASH_EXIT_CODE) && !self.spec.id.is_orchestrator();
        self.figures.crashes += u64::from(crash);
        crash
    }

    /// SIGSTOP, unless down or already paused.
    pub fn pause(&mut self) -> Result<()> {
        if let (Some(process), false) = (&self.process, self.paused) {
            process.signal(Signal::SIGSTOP)?;
            self.paused = true;
            self.figures.pauses += 1;
        }
        Ok(())
    }

    /// SIGCONT, if paused.
    pub fn resume(&mut self) -> Result<()> {
        if let (Some(process), true) = (&self.process, self.paused) {
            process.signal(Signal::SIGCONT)?;
        }
        self.paused = false;
        Ok(())
    }

    /// Notices an exit: the end of a SIGTERM's drain (recorded only if unclean), or one
    /// the runner did not cause (a `crash` fault, or worse: recorded). The node is down.
    pub async fn poll_exit(&mut self) -> Result<Option<ExitStatus>> {
        self.reap_predecessors(false).await?;
        let Some(process) = &mut self.process else {
            return Ok(None);
        };
        let Some(status) = process.try_exit()? else {
            return Ok(None);
        };
        self.process = None;
        self.paused = false;
        let name = self.spec.id.name();
        let crash = status.code() == Some(CRASH_EXIT_CODE) && !self.spec.id.is_orchestrator();
        match (self.terminating.take(), crash) {
            (Some(_), _) if status.success() => {}
            (_, true) => self.figures.crashes += 1,
            (Some(_), false) => self
                .figures
                .unexpected_exits
                .push(format!("{name} exited with {status} on SIGTERM")),
            (None, false) => self.figures.unexpected_exits.push(format!(
                "{name} generation {} exited on its own: {status}",
                self.generation.saturating_sub(1)
            )),
        }
        Ok(Some(status))
    }

    /// Stops the process with SIGTERM (after SIGCONT if paused); a non-zero exit, or no
    /// exit in time (the process is then killed), is recorded as unexpected; so are
    /// draining predecessors'.
    pub async fn terminate(&mut self) -> Result<()> {
        self.resume()?;
        self.finish_termination().await?;
        self.reap_predecessors(true).await?;
        let Some(mut process) = self.process.take() else {
            return Ok(());
        };
        let name = self.spec.id.name();
        match process.terminate().await {
            Ok(status) if status.success() => {}
            Ok(status) if self.crashed(status) => {}
            Ok(status) => self
                .figures
                .unexpected_exits
                .push(format!("{name} exited with {status} on SIGTERM")),
            Err(e) => self
                .figures
                .unexpected_exits
                .push(format!("{name} did not stop cleanly on SIGTERM: {e:#}")),
        }
        Ok(())
    }
}
