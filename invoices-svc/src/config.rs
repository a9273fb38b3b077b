//! Command-line flags and environment of the invoices participant.

use clap::Parser;
use service_kit::participant::Flags;

/// The default of `--max-invoice-cents`.
pub const DEFAULT_MAX_INVOICE_CENTS: i64 = 1_000_000;

/// How to run the invoices participant. Every field is public so that an in-process
/// launcher can build one in code (start from [`Config::default`]).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "invoices-svc",
    version,
    about = "The invoices participant of the saga orchestrator"
)]
pub struct Config {
    /// Address to serve gRPC on; port 0 picks a free port.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50053")]
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
    #[arg(long, env = "DATABASE_URL", default_value_t = service_kit::db::default_url("invoices"))]
    pub database_url: String,
    /// Faults to inject, e.g. `CreateInvoice:unavailable:0.3` (empty: none; `@FILE`: the rules in
    /// FILE, read again on SIGHUP).
    #[arg(long, env = "FAULTS", default_value = "")]
    pub faults: String,
    /// Seed of the fault draws; absent: taken from the clock and logged, so a run can
    /// be replayed.
    #[arg(long, env = "FAULT_SEED")]
    pub fault_seed: Option<u64>,
    /// How long the database may stay unreachable at start-up before giving up.
    #[arg(long, env = "STARTUP_TIMEOUT_MS", default_value_t = service_kit::db::DEFAULT_STARTUP_TIMEOUT_MS)]
    pub startup_timeout_ms: u64,
    /// Largest invoice issued; a larger `CreateInvoice` is refused with
    /// FAILED_PRECONDITION (how a saga is made to compensate on purpose).
    #[arg(long, env = "MAX_INVOICE_CENTS", default_value_t = DEFAULT_MAX_INVOICE_CENTS)]
    pub max_invoice_cents: i64,
}

impl Default for Config {
    /// The flags' defaults: the usual port, `./data/invoices.db`, no faults.
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50053".to_string(),
            http_listen: None,
            tls: service_kit::tls::ServerTls::default(),
            telemetry: service_kit::telemetry::TelemetryArgs::default(),
            database_url: service_kit::db::default_url("invoices"),
            faults: String::new(),
            fault_seed: None,
            startup_timeout_ms: service_kit::db::DEFAULT_STARTUP_TIMEOUT_MS,
            max_invoice_cents: DEFAULT_MAX_INVOICE_CENTS,
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
            "invoices-svc",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite://x.db",
            "--faults",
            "*:unavailable:0.5",
            "--fault-seed",
            "7",
            "--max-invoice-cents",
            "99",
        ])
        .expect("flags parse");
        assert_eq!(parsed.listen, "127.0.0.1:0");
        assert_eq!(parsed.database_url, "sqlite://x.db");
        assert_eq!(parsed.faults, "*:unavailable:0.5");
        assert_eq!(parsed.fault_seed, Some(7));
        assert_eq!(parsed.max_invoice_cents, 99);
    }
}
