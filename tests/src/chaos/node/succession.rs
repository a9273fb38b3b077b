//! A replica's successor started while it is still draining after SIGTERM, and the
//! draining predecessors watched until they exit (or overrun their bound and are killed).

use anyhow::Result;
use nix::sys::signal::Signal;

use super::Node;
use super::signals::TERM_BOUND;
use crate::chaos::plan::Succession;

impl Node {
    /// SIGTERM to the running process and the next generation started at once beside it,
    /// under the same replica id or a new one; `false` (nothing done) when the node is
    /// down, held down or already stopping.
    pub async fn succeed(&mut self, succession: Succession) -> Result<bool> {
        if self.process.is_none() || self.held_down || self.terminating.is_some() {
            return Ok(false);
        }
        self.resume()?;
        let Some(process) = self.process.take() else {
            return Ok(false);
        };
        process.signal(Signal::SIGTERM)?;
        self.predecessors
            .push((process, tokio::time::Instant::now()));
        self.figures.overlaps += 1;
        if succession == Succession::NewId {
            self.replica_id = Some(format!("{}-g{}", self.spec.id.name(), self.generation));
            self.figures.new_ids += 1;
        }
        self.start().await?;
        Ok(true)
    }

    /// Forgets the predecessors that exited (an unclean exit is recorded), and kills and
    /// records those still running past [`TERM_BOUND`]; with `wait`, waits for each
    /// first, up to that bound.
    pub(super) async fn reap_predecessors(&mut self, wait: bool) -> Result<()> {
        let name = self.spec.id.name();
        let mut still = Vec::new();
        for (mut process, since) in std::mem::take(&mut self.predecessors) {
            if wait {
                // Either it exits in time or it is killed below.
                let _ = tokio::time::timeout_at(since + TERM_BOUND, process.wait()).await;
            }
            match process.try_exit()? {
                Some(status) if status.success() => {}
                Some(status) => self.figures.unexpected_exits.push(format!(
                    "{name}'s predecessor exited with {status} on SIGTERM"
                )),
                None if tokio::time::Instant::now() < since + TERM_BOUND => {
                    still.push((process, since))
                }
                None => {
                    process.kill().await?;
                    self.figures.unexpected_exits.push(format!(
                        "{name}'s predecessor did not exit within {:.1}s of SIGTERM",
                        since.elapsed().as_secs_f64()
                    ));
                }
            }
        }
        self.predecessors = still;
        Ok(())
    }
}
