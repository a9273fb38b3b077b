//! Command-line flags and environment of the inventory participant.

use clap::Parser;
use service_kit::participant::Flags;

/// The largest quantity one reservation may hold.
pub const MAX_QUANTITY: u32 = 1_000;

/// How to run the inventory participant (start from [`Config::default`] in code).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "inventory-svc",
    version,
    about = "A stock-reservation participant for the saga orchestrator's tests"
)]
pub struct Config {
    /// Address to serve gRPC on; port 0 picks a free port.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50054")]
    pub listen: String,
    /// Address to serve HTTP on (`GET /metrics`, Prometheus' text format; port 0 picks a
    /// free port); absent: no HTTP listener.
    #[arg(long, env = "HTTP_LISTEN_ADDR")]
    pub http_listen: Option<String>,
    #[command(flatten)]
    pub tls: service_kit::tls::ServerTls,
    #[command(flatten)]
    pub telemetry: service_kit::telemetry::TelemetryArgs,
    /// The database, `sqlite://PATH` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value_t = service_kit::db::default_url("inventory"))]
    pub database_url: String,
    /// Faults to inject, e.g. `Reserve:unavailable:0.3` (empty: none; `@FILE`: the rules in
    /// FILE, read again on SIGHUP).
    #[arg(long, env = "FAULTS", default_value = "")]
    pub faults: String,
    /// Seed of the fault draws (default: from the clock, logged).
    #[arg(long, env = "FAULT_SEED")]
    pub fault_seed: Option<u64>,
    /// How long the database may stay unreachable at start-up before giving up.
    #[arg(long, env = "STARTUP_TIMEOUT_MS", default_value_t = service_kit::db::DEFAULT_STARTUP_TIMEOUT_MS)]
    pub startup_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self::parse_from(["inventory-svc"])
    }
}

impl Config {
    pub(crate) fn flags(&self) -> Flags<'_> {
        Flags {
            listen: &self.listen,
            http_listen: self.http_listen.as_deref(),
            tls: &self.tls,
            database_url: &self.database_url,
            faults: &self.faults,
            fault_seed: self.fault_seed,
            startup_timeout: std::time::Duration::from_millis(self.startup_timeout_ms),
        }
    }
}
