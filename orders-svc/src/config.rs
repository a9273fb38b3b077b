//! Command-line flags and environment of the orders participant.

use clap::Parser;
use service_kit::participant::Flags;

/// How to run the orders participant. Every field is public so that an in-process
/// launcher can build one in code (start from [`Config::default`]).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-svc",
    version,
    about = "The orders participant of the saga orchestrator"
)]
pub struct Config {
    /// Address to serve gRPC on; port 0 picks a free port.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50052")]
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
    #[arg(long, env = "DATABASE_URL", default_value_t = service_kit::db::default_url("orders"))]
    pub database_url: String,
    /// Faults to inject, e.g. `CreateOrder:unavailable:0.3` (empty: none; `@FILE`: the rules in
    /// FILE, read again on SIGHUP).
    #[arg(long, env = "FAULTS", default_value = "")]
    pub faults: String,
    /// Seed of the fault draws; absent: taken from the clock and logged, so a run can
    /// be replayed.
    #[arg(long, env = "FAULT_SEED")]
    pub fault_seed: Option<u64>,
    /// A NATS server with JetStream, e.g. `nats://127.0.0.1:4222`: the outbox relay
    /// publishes the order events there (absent: no relay; `WatchOrderEvents` still
    /// streams them).
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// How long the database may stay unreachable at start-up before giving up.
    #[arg(long, env = "STARTUP_TIMEOUT_MS", default_value_t = service_kit::db::DEFAULT_STARTUP_TIMEOUT_MS)]
    pub startup_timeout_ms: u64,
}

impl Default for Config {
    /// The flags' defaults: the usual port, `./data/orders.db`, no faults.
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50052".to_string(),
            http_listen: None,
            tls: service_kit::tls::ServerTls::default(),
            telemetry: service_kit::telemetry::TelemetryArgs::default(),
            database_url: service_kit::db::default_url("orders"),
            faults: String::new(),
            fault_seed: None,
            nats_url: None,
            startup_timeout_ms: service_kit::db::DEFAULT_STARTUP_TIMEOUT_MS,
        }
    }
}

impl Config {
    /// The flags every participant shares, as the kit starts one from.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_defaults() {
        let parsed = Config::try_parse_from([
            "orders-svc",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite://x.db",
            "--faults",
            "*:unavailable:0.5",
            "--fault-seed",
            "7",
        ])
        .expect("flags parse");
        assert_eq!(parsed.listen, "127.0.0.1:0");
        assert_eq!(parsed.database_url, "sqlite://x.db");
        assert_eq!(parsed.faults, "*:unavailable:0.5");
        assert_eq!(parsed.fault_seed, Some(7));
    }
}
