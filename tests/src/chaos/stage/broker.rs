//! The campaign's NATS server (with `--pattern events-nats`): killed and started again on
//! its port and store, paused so that its stream's leader is unavailable, and counted.

use anyhow::Result;
use serde::Serialize;

use super::Stage;
use crate::nats::NatsServer;

/// What the schedule did to the NATS server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BrokerFigures {
    pub kills: u64,
    /// SIGSTOP pauses (the stream's leader unavailable).
    pub pauses: u64,
}

/// The server and what was done to it.
#[derive(Debug)]
pub(super) struct Broker {
    server: NatsServer,
    figures: BrokerFigures,
}

impl Broker {
    fn new(server: NatsServer) -> Self {
        Self {
            server,
            figures: BrokerFigures::default(),
        }
    }
}

impl Stage {
    /// The stage with the campaign's NATS server (none: no broker), already running.
    pub fn with_broker(mut self, server: Option<NatsServer>) -> Self {
        self.broker = server.map(Broker::new);
        self
    }

    /// SIGKILL of the server, which stays down until [`Stage::start_broker`].
    pub(super) async fn kill_broker(&mut self) -> Result<()> {
        if let Some(broker) = &mut self.broker {
            broker.server.kill().await?;
            broker.figures.kills += 1;
        }
        Ok(())
    }

    /// Starts the server again unless it runs, and resumes it if paused.
    pub(super) async fn start_broker(&mut self) -> Result<()> {
        if let Some(broker) = &mut self.broker {
            broker.server.resume()?;
            broker.server.start_again().await?;
        }
        Ok(())
    }

    pub(super) fn pause_broker(&mut self) -> Result<()> {
        if let Some(broker) = &mut self.broker {
            broker.server.pause()?;
            broker.figures.pauses += 1;
        }
        Ok(())
    }

    pub(super) fn resume_broker(&mut self) -> Result<()> {
        match &self.broker {
            Some(broker) => broker.server.resume(),
            None => Ok(()),
        }
    }

    /// What the schedule did to the NATS server (none: no broker in the campaign).
    pub fn broker_figures(&self) -> Option<BrokerFigures> {
        self.broker.as_ref().map(|b| b.figures)
    }
}
