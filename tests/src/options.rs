//! How a test's cluster is started: the storage backend, faults per participant, the
//! invoice limit, supervision and the orchestrator's retry tuning.

use crate::backend::Backend;

/// How to start a [`Cluster`](crate::Cluster): the backend, faults per participant, the invoice limit, supervision and
/// the orchestrator's tuning. The defaults are fault-free with fast retries.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// Where the three services keep their data (a fresh database each).
    pub backend: Backend,
    /// `--faults` of `orders-svc` (empty: none). Name methods explicitly, not `*`, so
    /// that the invariant checker's reads are never faulted.
    pub orders_faults: String,
    /// `--faults` of `invoices-svc` (empty: none).
    pub invoices_faults: String,
    /// `--fault-seed` of both participants (a restart adds its generation number).
    pub fault_seed: u64,
    /// `invoices-svc --max-invoice-cents`; `None` keeps the service's default.
    pub max_invoice_cents: Option<i64>,
    /// Restart a participant on the same address whenever it exits.
    pub supervise_participants: bool,
    pub call_timeout_ms: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// `orchestrator --seed` (backoff jitter).
    pub seed: u64,
    /// Print the tail of each service's log when the cluster is dropped (a test runner
    /// shows it only for a failed test; a tool that reports on its own turns it off).
    pub log_tails_on_drop: bool,
    /// More orchestrator flags (e.g. `--participant SERVICE=URL`).
    pub orchestrator_args: Vec<String>,
    /// The NATS server orders-svc relays its events to and the orchestrator consumes
    /// them from (`--nats-url` of both).
    pub nats_url: Option<String>,
    /// A folder of databases to start from instead of empty ones (see
    /// [`crate::backend::Database::load`]).
    pub databases_from: Option<std::path::PathBuf>,
    /// The participants read their faults from a file, so that
    /// [`Cluster::set_faults`](crate::Cluster::set_faults) can change them while they run.
    pub changeable_faults: bool,
    /// Every service serves its metrics on an HTTP port of its own (`--http-listen`).
    pub metrics: bool,
    /// Every gRPC connection is mutual TLS with these files' certificates.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Every service exports its traces to this OTLP collector (`--otlp-endpoint`).
    pub otlp_endpoint: Option<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            orders_faults: String::new(),
            invoices_faults: String::new(),
            fault_seed: 7,
            max_invoice_cents: None,
            supervise_participants: false,
            call_timeout_ms: 500,
            max_attempts: 8,
            retry_base_ms: 5,
            retry_max_ms: 200,
            seed: 1,
            log_tails_on_drop: true,
            orchestrator_args: Vec::new(),
            nats_url: None,
            databases_from: None,
            changeable_faults: false,
            metrics: false,
            tls: None,
            otlp_endpoint: None,
        }
    }
}

impl ClusterOptions {
    /// Every service serves `GET /metrics` (`--http-listen` on a free port).
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self.orchestrator_args
            .push("--http-listen=127.0.0.1:0".into());
        self
    }

    /// Every service exports its traces to the OTLP collector at `endpoint`.
    pub fn otlp(mut self, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        self.orchestrator_args
            .push(format!("--otlp-endpoint={endpoint}"));
        self.otlp_endpoint = Some(endpoint);
        self
    }

    /// Mutual TLS between every service and client, with `files`' certificates.
    pub fn tls(mut self, files: crate::tls::TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Let the test change the participants' faults while they run.
    pub fn changeable_faults(mut self) -> Self {
        self.changeable_faults = true;
        self
    }

    /// Start every service on a copy of the databases in `folder`.
    pub fn databases_from(mut self, folder: impl Into<std::path::PathBuf>) -> Self {
        self.databases_from = Some(folder.into());
        self
    }

    /// One more orchestrator flag.
    pub fn orchestrator_arg(mut self, arg: impl Into<String>) -> Self {
        self.orchestrator_args.push(arg.into());
        self
    }

    pub fn nats_url(mut self, url: impl Into<String>) -> Self {
        self.nats_url = Some(url.into());
        self
    }

    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    pub fn orders_faults(mut self, spec: &str) -> Self {
        self.orders_faults = spec.to_string();
        self
    }

    pub fn invoices_faults(mut self, spec: &str) -> Self {
        self.invoices_faults = spec.to_string();
        self
    }

    /// Every forward call waits `ms` before it runs: sagas stay in flight long enough
    /// for a restart to land in the middle of them.
    pub fn slow_calls(self, ms: u64) -> Self {
        self.orders_faults(&format!(
            "CreateOrder:delay={ms}:1,ConfirmOrder:delay={ms}:1"
        ))
        .invoices_faults(&format!("CreateInvoice:delay={ms}:1"))
    }

    pub fn fault_seed(mut self, seed: u64) -> Self {
        self.fault_seed = seed;
        self
    }

    pub fn max_invoice_cents(mut self, cents: i64) -> Self {
        self.max_invoice_cents = Some(cents);
        self
    }

    pub fn supervise_participants(mut self) -> Self {
        self.supervise_participants = true;
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    pub fn retry_max_ms(mut self, ms: u64) -> Self {
        self.retry_max_ms = ms;
        self
    }
}
