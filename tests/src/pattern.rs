//! The three ways this system keeps an order and its invoice consistent, as the
//! benchmark and the chaos campaigns name them.

/// One way to keep an order and its invoice consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// `PlaceOrder` on the orchestrator: the saga runs while the client waits.
    #[default]
    Orchestrated,
    /// `PlaceOrder` at orders-svc; the orchestrator follows its outbox stream.
    Events,
    /// `PlaceOrder` at orders-svc; its relay publishes to NATS JetStream, which the
    /// orchestrator consumes.
    EventsNats,
    /// `PlaceOrder` at orders-svc; the orchestrator's sweep finds it.
    Sync,
}

impl Pattern {
    pub const ALL: [Pattern; 4] = [
        Self::Orchestrated,
        Self::Events,
        Self::EventsNats,
        Self::Sync,
    ];

    /// For people: tables and progress.
    pub fn label(self) -> &'static str {
        match self {
            Self::Orchestrated => "orchestrated request",
            Self::Events => "events (outbox stream)",
            Self::EventsNats => "events (NATS JetStream)",
            Self::Sync => "background sync",
        }
    }

    /// On the command line (`--pattern`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Orchestrated => "orchestrated",
            Self::Events => "events",
            Self::EventsNats => "events-nats",
            Self::Sync => "sync",
        }
    }

    /// Whether clients place orders at orders-svc (not through the orchestrator).
    pub fn direct(self) -> bool {
        self != Self::Orchestrated
    }

    /// The orchestrator's `--invoice-trigger` for the pattern.
    pub fn invoice_trigger(self) -> &'static str {
        match self {
            Self::Orchestrated => "off",
            Self::Events | Self::EventsNats => "events",
            Self::Sync => "sync",
        }
    }
}
