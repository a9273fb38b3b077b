//! The orchestrator's settings, from flags or environment variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::engine::Settings;
use crate::invoicing::{SyncSettings, Trigger};
use saga_definitions::machine::{Backoff, Policy};

/// Runs order → invoice → confirm sagas over a durable saga log.
#[derive(Debug, Clone, Parser)]
#[command(name = "orchestrator", version)]
pub struct Config {
    /// Address to serve gRPC on (port 0 picks a free port).
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// Address to serve HTTP on (the operators' web page at `/`, and `GET /metrics` in
    /// Prometheus' text format; port 0 picks a free port); absent: no HTTP listener.
    #[arg(long, env = "HTTP_LISTEN_ADDR")]
    pub http_listen: Option<String>,
    /// TLS on the gRPC listener.
    #[command(flatten)]
    pub tls: service_kit::tls::ServerTls,
    #[command(flatten)]
    pub telemetry: service_kit::telemetry::TelemetryArgs,
    /// TLS towards the participants (`https://` URLs).
    #[command(flatten)]
    pub participant_tls: service_kit::tls::ClientTls,
    /// Host names the web page answers to besides IP literals and `localhost` (e.g. the
    /// name operators type to reach it); a request for any other name is refused, so that
    /// a foreign name pointed at this listener (DNS rebinding) cannot read or act on it.
    #[arg(long, env = "HTTP_ALLOWED_HOSTS", value_delimiter = ',', value_parser = parse_host_name)]
    pub http_allowed_hosts: Vec<String>,
    /// Tokens, one `principal:role:token` a line (role `reader`, `operator` or `admin`),
    /// read again on SIGHUP: operators' actions then need an operator's or admin's token,
    /// registering a definition an admin's (`authorization: Bearer TOKEN`); absent: nobody
    /// is asked.
    #[arg(long, env = "AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// With `--auth-token-file`: reads (sagas, definitions, replicas) need a token too.
    #[arg(long, env = "AUTH_READ", requires = "auth_token_file")]
    pub auth_read: bool,
    /// Largest gRPC request accepted, in bytes; a larger one is OUT_OF_RANGE.
    #[arg(long, env = "MAX_REQUEST_BYTES", default_value_t = 1 << 20)]
    pub max_request_bytes: usize,
    /// Streams one client connection may have open at once (HTTP/2
    /// SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, env = "MAX_STREAMS_PER_CONNECTION", default_value_t = 1024)]
    pub max_streams_per_connection: u32,
    /// Watches (WatchSaga, WatchSagas) one client connection may have open at once; one
    /// more is RESOURCE_EXHAUSTED.
    #[arg(long, env = "MAX_WATCHERS_PER_CONNECTION", default_value_t = 64)]
    pub max_watchers_per_connection: usize,
    /// Operators' actions (retry, abort, resolve, skip) one principal may make a minute;
    /// one more is RESOURCE_EXHAUSTED (0: no limit).
    #[arg(long, env = "OPERATOR_ACTIONS_PER_MINUTE", default_value_t = 120)]
    pub operator_actions_per_minute: u32,
    /// Where the saga log lives: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/orchestrator.db"
    )]
    pub database_url: String,
    /// The orders participant.
    #[arg(long, env = "ORDERS_URL", default_value = "http://127.0.0.1:50052")]
    pub orders_url: String,
    /// The invoices participant.
    #[arg(long, env = "INVOICES_URL", default_value = "http://127.0.0.1:50053")]
    pub invoices_url: String,
    /// Another participant service and where it is, as SERVICE=URL (e.g.
    /// `inventory.v1.Inventory=http://127.0.0.1:50054`); repeat for more. Its schema is
    /// fetched by gRPC server reflection. `--orders-url` and `--invoices-url` name the
    /// two built-in ones.
    #[arg(long = "participant", env = "PARTICIPANTS", value_delimiter = ',', value_parser = parse_participant)]
    pub participants: Vec<ParticipantArg>,
    /// A serialized `google.protobuf.FileDescriptorSet` with the schemas of participants
    /// that do not serve reflection; repeat for more.
    #[arg(
        long = "descriptor-set",
        env = "DESCRIPTOR_SETS",
        value_delimiter = ','
    )]
    pub descriptor_sets: Vec<PathBuf>,
    /// A folder of saga definitions (`*.json`, `*.yaml`, `*.yml`), registered at start-up after the
    /// built-in ones; one with a problem stops the start, naming the file.
    #[arg(long, env = "DEFINITIONS_DIR")]
    pub definitions: Option<PathBuf>,
    /// Deadline of one participant call; a call past it may still have taken effect.
    #[arg(long, env = "CALL_TIMEOUT_MS", default_value_t = 2_000)]
    pub call_timeout_ms: u64,
    /// HTTP/2 connections to each participant, used in turn (one caps out below a core).
    #[arg(long, env = "PARTICIPANT_CONNECTIONS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub participant_connections: u16,
    /// Attempts of a forward step (create order, create invoice) before compensating.
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Time a forward step may keep retrying before compensating.
    #[arg(long, env = "STEP_TIME_LIMIT_MS", default_value_t = 60_000)]
    pub step_time_limit_ms: u64,
    /// A saga that has not reached its confirmation this long after it was accepted
    /// compensates (default: no deadline).
    #[arg(long, alias = "saga-timeout", env = "SAGA_TIMEOUT_MS")]
    pub saga_timeout_ms: Option<u64>,
    /// Attempts after which a step that never gives up (the confirmation, a
    /// compensation) is parked: retried every `--parked-retry-ms` and flagged.
    #[arg(long, env = "PARK_AFTER_ATTEMPTS", default_value_t = 20)]
    pub park_after_attempts: u32,
    /// Pace of a parked step's retries.
    #[arg(long, env = "PARKED_RETRY_MS", default_value_t = 60_000)]
    pub parked_retry_ms: u64,
    /// First retry backoff; it doubles per attempt.
    #[arg(long, env = "RETRY_BASE_MS", default_value_t = 50)]
    pub retry_base_ms: u64,
    /// Largest retry backoff.
    #[arg(long, env = "RETRY_MAX_MS", default_value_t = 5_000)]
    pub retry_max_ms: u64,
    /// Sagas driven at once; beyond it PlaceOrder answers RESOURCE_EXHAUSTED.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// Sagas making calls at once; the others queue for a place in arrival order (a saga
    /// waiting for a retry holds none).
    #[arg(long, env = "MAX_WORKING_SAGAS", default_value_t = 256)]
    pub max_working_sagas: usize,
    /// A new saga is refused RESOURCE_EXHAUSTED, at once and with nothing written, when
    /// it would queue longer than this (or than its caller's deadline) for its place.
    #[arg(long, env = "MAX_QUEUE_DELAY_MS", default_value_t = 50)]
    pub max_queue_delay_ms: u64,
    /// Most saga-log writes of concurrent sagas that share one commit (group commit).
    #[arg(long, env = "MAX_BATCH", default_value_t = 256)]
    pub max_batch: usize,
    /// Time SIGTERM gives in-flight calls to finish.
    #[arg(long, env = "DRAIN_TIMEOUT_MS", default_value_t = 5_000)]
    pub drain_timeout_ms: u64,
    /// This replica's name in the saga log. Default: the host name and a random suffix,
    /// new at every start, so that no two processes share one; a fixed name lets a
    /// restarted replica resume its own sagas at once instead of after their lease.
    #[arg(long, env = "REPLICA_ID")]
    pub replica_id: Option<String>,
    /// How long a replica holds a saga without renewing; then another takes it over.
    #[arg(long, env = "LEASE_MS", default_value_t = 10_000)]
    pub lease_ms: u64,
    /// How long the saga log may stay unreachable at start-up before giving up.
    #[arg(long, env = "STARTUP_TIMEOUT_MS", default_value_t = service_kit::db::DEFAULT_STARTUP_TIMEOUT_MS)]
    pub startup_timeout_ms: u64,
    /// How orders placed directly at orders-svc get their invoices: `events` (its outbox
    /// events), `sync` (a sweep from a durable watermark) or `off` (they do not).
    #[arg(long, env = "INVOICE_TRIGGER", value_enum, default_value_t = Trigger::Off)]
    pub invoice_trigger: Trigger,
    /// A NATS server with JetStream, e.g. `nats://127.0.0.1:4222`, that `--invoice-trigger
    /// events` consumes the order events from (absent: orders-svc's own event stream).
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// Pause between two sweeps of `--invoice-trigger sync`.
    #[arg(long, env = "SYNC_INTERVAL_MS", default_value_t = 1_000)]
    pub sync_interval_ms: u64,
    /// Orders a sweep reads per page.
    #[arg(long, env = "SYNC_PAGE_SIZE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub sync_page_size: u32,
    /// Seed of ids and jitter (default: from the clock).
    #[arg(long, env = "SEED")]
    pub seed: Option<u64>,
}

impl Config {
    /// The engine's tuning from these settings; `replica_id` is [`Config::replica_id`]'s
    /// or a generated one.
    pub fn engine_settings(&self, replica_id: String) -> Settings {
        Settings {
            policy: Policy {
                max_attempts: self.max_attempts,
                step_time_limit_ms: millis(self.step_time_limit_ms),
                saga_timeout_ms: self.saga_timeout_ms.map(millis),
                park_after_attempts: self.park_after_attempts,
                backoff: Backoff {
                    base_ms: self.retry_base_ms,
                    max_ms: self.retry_max_ms.max(self.retry_base_ms),
                    parked_ms: self.parked_retry_ms,
                },
            },
            max_in_flight: self.max_in_flight.max(1),
            max_working: self.max_working_sagas.max(1),
            max_queue_delay: Duration::from_millis(self.max_queue_delay_ms),
            replica_id,
            lease: Duration::from_millis(self.lease_ms.max(30)),
        }
    }

    /// The sweep's pace.
    pub fn sync_settings(&self) -> SyncSettings {
        SyncSettings {
            interval: Duration::from_millis(self.sync_interval_ms.max(10)),
            page_size: self.sync_page_size,
        }
    }

    /// Every participant as (service, URL): the two built-in ones, then the
    /// `--participant`s (a later one for the same service wins).
    pub fn participant_urls(&self) -> Vec<(String, String)> {
        let [orders, invoices] = crate::definitions::BUILT_IN;
        [(orders, &self.orders_url), (invoices, &self.invoices_url)]
            .into_iter()
            .map(|(service, url)| (service.to_string(), url.clone()))
            .chain(
                self.participants
                    .iter()
                    .map(|p| (p.service.clone(), p.url.clone())),
            )
            .collect()
    }

    /// Defaults for everything but the addresses, for in-process use.
    pub fn local(listen: &str, database_url: &str, orders_url: &str, invoices_url: &str) -> Self {
        let mut config = Config::parse_from(["orchestrator"]);
        config.listen = listen.to_string();
        config.database_url = database_url.to_string();
        config.orders_url = orders_url.to_string();
        config.invoices_url = invoices_url.to_string();
        config
    }
}

/// One `--participant SERVICE=URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantArg {
    /// `package.Service`.
    pub service: String,
    pub url: String,
}

fn parse_participant(text: &str) -> Result<ParticipantArg, String> {
    let (service, url) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not SERVICE=URL"))?;
    let probe = saga_definitions::MethodName::parse(&format!("{service}/M"));
    if probe.is_none() {
        return Err(format!(
            "{service:?} is not a service name (package.Service)"
        ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    }
    Ok(ParticipantArg {
        service: service.to_string(),
        url: url.to_string(),
    })
}

/// One `--http-allowed-hosts` name: a bare host name, without scheme, port or path.
fn parse_host_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    match bare {
        true => Ok(name.to_string()),
        false => Err(format!(
            "{text:?} is not a host name (give it without scheme, port or path)"
        )),
    }
}

/// A replica id unique to this process: the host name and 32 random bits.
pub fn unique_replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "orchestrator".to_string());
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!("{host}-{suffix}")
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_are_service_equals_url_and_bad_ones_say_why() {
        let config = Config::parse_from([
            "orchestrator",
            "--participant",
            "inventory.v1.Inventory=http://127.0.0.1:50054",
            "--participant=shipping.v1.Shipping=https://ship:443,billing.v1.Billing=http://b:1",
        ]);
        let services: Vec<&str> = config
            .participants
            .iter()
            .map(|p| p.service.as_str())
            .collect();
        assert_eq!(
            services,
            [
                "inventory.v1.Inventory",
                "shipping.v1.Shipping",
                "billing.v1.Billing"
            ]
        );
        assert_eq!(config.participants[0].url, "http://127.0.0.1:50054");
        for bad in [
            "inventory.v1.Inventory",
            "Inventory=http://x",
            "a.B=ftp://x",
        ] {
            let parsed = Config::try_parse_from(["orchestrator", "--participant", bad]);
            assert!(parsed.is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_hosts_are_bare_names() {
        let config = Config::parse_from([
            "orchestrator",
            "--http-allowed-hosts",
            "saga.ops.example,orchestrator",
        ]);
        assert_eq!(
            config.http_allowed_hosts,
            ["saga.ops.example", "orchestrator"]
        );
        for bad in ["", "saga.example:8080", "http://saga.example", "a b"] {
            let parsed = Config::try_parse_from(["orchestrator", "--http-allowed-hosts", bad]);
            assert!(parsed.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn processes_without_a_replica_id_name_themselves_apart() {
        let config = Config::parse_from(["orchestrator"]);
        assert_eq!(config.replica_id, None);
        let (first, second) = (unique_replica_id(), unique_replica_id());
        assert_ne!(first, second);
        let fixed = Config::parse_from(["orchestrator", "--replica-id", "r1"]);
        assert_eq!(fixed.replica_id.as_deref(), Some("r1"));
    }
}
