//! A whole product on loopback: the orchestrator and both participants as processes, each
//! on a fresh database of its own (a SQLite file in a temporary folder, or a new
//! PostgreSQL database), with connected gRPC clients.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;
use saga_contracts::invoices::v1::invoices_client::InvoicesClient;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{Saga, SagaStatus};
use tempfile::TempDir;
use tonic::transport::Channel;

use crate::backend::{Backend, Database};
use crate::binaries::Binary;
use crate::listing::all_sagas;
use crate::options::ClusterOptions;
use crate::poll::{Check, eventually};
use crate::process::{LOG_TAIL_LINES, ServiceProcess, log_tail};
use crate::supervisor::Participant;

mod launch;

use launch::{
    channel, faults_path, log_path, orchestrator_tls_args, participant_launch, spawn_orchestrator,
};

/// Per-call deadline of the test's own clients (PlaceOrder may wait for a whole saga).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Set this environment variable to keep a test's folder (databases and logs).
const KEEP_DIR_ENV: &str = "SAGA_TESTS_KEEP_DIR";

/// The running product. Dropping it kills every process; its logs' tails are printed
/// (shown by the test runner only when the test fails).
#[derive(Debug)]
pub struct Cluster {
    orchestrator: Option<ServiceProcess>,
    orchestrator_client: OrchestratorClient<Channel>,
    orchestrator_binary: PathBuf,
    orchestrator_args: Vec<String>,
    orders: Participant,
    invoices: Participant,
    orders_client: OrdersClient<Channel>,
    invoices_client: InvoicesClient<Channel>,
    backend: Backend,
    orchestrator_database: Database,
    dir: TempDir,
    log_tails_on_drop: bool,
    /// The clients' TLS, when the cluster runs mutual TLS.
    tls: Option<tonic::transport::ClientTlsConfig>,
}

impl Cluster {
    /// Creates a fresh database per service on the options' backend, starts both
    /// participants, then the orchestrator pointed at them.
    pub async fn start(options: ClusterOptions) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("saga-e2e-")
            .tempdir()
            .context("cannot create the test folder")?;
        let backend = &options.backend;
        let database = |binary: Binary| {
            let (dir, folder) = (dir.path(), options.databases_from.clone());
            async move {
                let database = backend.database(dir, binary).await?;
                if let Some(folder) = folder {
                    database.load(&folder, binary).await?;
                }
                anyhow::Ok(database)
            }
        };
        let mut orders_launch = participant_launch(
            &dir,
            Binary::OrdersSvc,
            database(Binary::OrdersSvc).await?,
            &options.orders_faults,
            &options,
        )?;
        let nats = options
            .nats_url
            .iter()
            .flat_map(|url| ["--nats-url".into(), url.clone()]);
        orders_launch.args.extend(nats.clone());
        let orders = Participant::start(orders_launch, options.supervise_participants).await?;
        let mut invoices_launch = participant_launch(
            &dir,
            Binary::InvoicesSvc,
            database(Binary::InvoicesSvc).await?,
            &options.invoices_faults,
            &options,
        )?;
        if let Some(cents) = options.max_invoice_cents {
            invoices_launch
                .args
                .extend(["--max-invoice-cents".into(), cents.to_string()]);
        }
        let invoices = Participant::start(invoices_launch, options.supervise_participants).await?;
        let orchestrator_database = database(Binary::Orchestrator).await?;
        let tls = match &options.tls {
            Some(files) => Some(files.client(true)?),
            None => None,
        };
        let url = |http: String| match &tls {
            Some(_) => http.replacen("http://", "https://", 1),
            None => http,
        };
        // A fixed name: a restarted orchestrator takes its own sagas back at once.
        let mut orchestrator_args = vec![
            "--replica-id".into(),
            "e2e-orchestrator".into(),
            "--database-url".into(),
            orchestrator_database.url(),
            "--orders-url".into(),
            url(orders.url()),
            "--invoices-url".into(),
            url(invoices.url()),
            "--call-timeout-ms".into(),
            options.call_timeout_ms.to_string(),
            "--max-attempts".into(),
            options.max_attempts.to_string(),
            "--retry-base-ms".into(),
            options.retry_base_ms.to_string(),
            "--retry-max-ms".into(),
            options.retry_max_ms.to_string(),
            "--seed".into(),
            options.seed.to_string(),
        ];
        orchestrator_args.extend(nats);
        orchestrator_args.extend(options.tls.iter().flat_map(orchestrator_tls_args));
        orchestrator_args.extend(options.orchestrator_args.iter().cloned());
        let orchestrator_binary = Binary::Orchestrator.path()?;
        let orchestrator =
            spawn_orchestrator(&dir, &orchestrator_binary, &orchestrator_args).await?;
        let client = |http: String| channel(&url(http), tls.as_ref());
        Ok(Self {
            orchestrator_client: OrchestratorClient::new(client(orchestrator.url())?),
            orchestrator: Some(orchestrator),
            orchestrator_binary,
            orchestrator_args,
            orders_client: OrdersClient::new(client(orders.url())?),
            invoices_client: InvoicesClient::new(client(invoices.url())?),
            tls,
            orders,
            invoices,
            backend: options.backend,
            orchestrator_database,
            dir,
            log_tails_on_drop: options.log_tails_on_drop,
        })
    }

    /// A client of the current orchestrator process.
    pub fn orchestrator(&self) -> OrchestratorClient<Channel> {
        self.orchestrator_client.clone()
    }

    /// A client of `orders-svc` (it reconnects across supervised restarts).
    pub fn orders(&self) -> OrdersClient<Channel> {
        self.orders_client.clone()
    }

    /// A client of `invoices-svc` (it reconnects across supervised restarts).
    /// Signals the invoices participant's process, e.g. to pause it for an outage.
    pub fn invoices_signaller(&self) -> crate::supervisor::Signaller {
        self.invoices.signaller()
    }

    pub fn invoices(&self) -> InvoicesClient<Channel> {
        self.invoices_client.clone()
    }

    /// Puts `spec` in force at `participant` (`orders-svc` or `invoices-svc`) from its
    /// next calls on: the file it reads its faults from is rewritten and it gets SIGHUP.
    /// The cluster must have been started with changeable faults.
    pub fn set_faults(&self, participant: Binary, spec: &str) -> Result<()> {
        let path = faults_path(self.dir.path(), participant);
        if !path.exists() {
            bail!("the cluster was not started with changeable faults");
        }
        std::fs::write(&path, spec).with_context(|| format!("cannot write {}", path.display()))?;
        let signaller = match participant {
            Binary::OrdersSvc => self.orders.signaller(),
            Binary::InvoicesSvc => self.invoices.signaller(),
            other => bail!("{} injects no faults", other.name()),
        };
        signaller.send(Signal::SIGHUP)
    }

    /// The exits of `orders-svc` so far (each followed by a restart when supervised).
    pub fn orders_exits(&self) -> Vec<ExitStatus> {
        self.orders.exits()
    }

    /// The exits of `invoices-svc` so far (each followed by a restart when supervised).
    pub fn invoices_exits(&self) -> Vec<ExitStatus> {
        self.invoices.exits()
    }

    /// The orchestrator's exit status if it has exited on its own (`None`: running).
    pub fn orchestrator_exit(&mut self) -> Result<Option<ExitStatus>> {
        match self.orchestrator.as_mut() {
            Some(process) => process.try_exit(),
            None => bail!("the orchestrator is not running"),
        }
    }

    /// Sends `signal` to the orchestrator (e.g. SIGHUP: read its token file again).
    pub fn signal_orchestrator(&self, signal: Signal) -> Result<()> {
        self.orchestrator
            .as_ref()
            .context("the orchestrator is not running")?
            .signal(signal)
    }

    /// Crashes the orchestrator with SIGKILL.
    pub async fn kill_orchestrator(&mut self) -> Result<ExitStatus> {
        let mut process = self
            .orchestrator
            .take()
            .context("the orchestrator is not running")?;
        process.kill().await
    }

    /// Stops the orchestrator with SIGTERM (it drains, then exits).
    pub async fn terminate_orchestrator(&mut self) -> Result<ExitStatus> {
        let mut process = self
            .orchestrator
            .take()
            .context("the orchestrator is not running")?;
        process.terminate().await
    }

    /// A rolling restart: SIGTERMs the orchestrator and starts its successor (same
    /// settings, same replica name, same database, a new port) at once, while the old
    /// process still drains; returns the old process's exit.
    pub async fn hand_over_orchestrator(&mut self) -> Result<ExitStatus> {
        let mut old = self
            .orchestrator
            .take()
            .context("the orchestrator is not running")?;
        old.signal(Signal::SIGTERM)?;
        self.restart_orchestrator().await?;
        old.wait_bounded("SIGTERM").await
    }

    /// Starts a new orchestrator process on the same database (on a new port) and
    /// points [`Cluster::orchestrator`] at it.
    pub async fn restart_orchestrator(&mut self) -> Result<()> {
        if self.orchestrator.is_some() {
            bail!("the orchestrator is still running; kill or terminate it first");
        }
        let process = spawn_orchestrator(
            &self.dir,
            &self.orchestrator_binary,
            &self.orchestrator_args,
        )
        .await?;
        let url = self.url_of(process.url());
        self.orchestrator_client = OrchestratorClient::new(channel(&url, self.tls.as_ref())?);
        self.orchestrator = Some(process);
        Ok(())
    }

    /// Starts another orchestrator replica under `replica_id` on the same database and
    /// participants (sharing the saga log needs PostgreSQL); the caller owns it.
    pub async fn another_orchestrator(&self, replica_id: &str) -> Result<ServiceProcess> {
        let mut args = self.orchestrator_args.clone();
        let at = args
            .iter()
            .position(|a| a == "--replica-id")
            .context("the orchestrator runs without --replica-id")?;
        if let Some(id) = args.get_mut(at + 1) {
            *id = replica_id.to_string();
        }
        spawn_orchestrator(&self.dir, &self.orchestrator_binary, &args).await
    }

    /// Polls ListSagas until some saga is past its first step and not ended yet (a saga
    /// in the middle, where a crash or restart is worth making).
    pub async fn wait_for_a_saga_mid_way(&self, deadline: Duration) -> Result<Vec<Saga>> {
        self.wait_for_sagas(deadline, "a saga past its first step", |sagas| {
            sagas
                .iter()
                .any(|s| !s.order_id.is_empty() && !is_terminal(s.status()))
        })
        .await
    }

    /// Polls ListSagas until every saga has ended (COMPLETED, COMPENSATED or FAILED) and
    /// returns them; fails after `deadline` listing the sagas still going.
    pub async fn wait_until_all_terminal(&self, deadline: Duration) -> Result<Vec<Saga>> {
        self.wait_for_sagas(deadline, "every saga to end", |sagas| {
            sagas.iter().all(|s| is_terminal(s.status()))
        })
        .await
    }

    /// Polls ListSagas until `condition` holds for the listed sagas and returns them;
    /// fails after `deadline` naming `what` and the statuses last seen.
    pub async fn wait_for_sagas(
        &self,
        deadline: Duration,
        what: &str,
        condition: impl Fn(&[Saga]) -> bool,
    ) -> Result<Vec<Saga>> {
        let client = self.orchestrator();
        let condition = &condition;
        eventually(deadline, what, || {
            let client = client.clone();
            async move {
                let sagas = all_sagas(&client, SagaStatus::Unspecified).await?;
                if condition(&sagas) {
                    return Ok(Check::Done(sagas));
                }
                let seen: Vec<String> = sagas
                    .iter()
                    .map(|s| format!("{} {}", s.saga_id, s.status().as_str_name()))
                    .collect();
                Ok(Check::NotYet(format!("{} sagas: {seen:?}", seen.len())))
            }
        })
        .await
    }

    /// Stops everything with SIGTERM (orchestrator first) and returns each service's exit.
    pub async fn stop(&mut self) -> Result<Vec<(&'static str, ExitStatus)>> {
        let mut exits = Vec::new();
        if self.orchestrator.is_some() {
            exits.push((
                Binary::Orchestrator.name(),
                self.terminate_orchestrator().await?,
            ));
        }
        exits.push((Binary::OrdersSvc.name(), self.orders.stop().await?));
        exits.push((Binary::InvoicesSvc.name(), self.invoices.stop().await?));
        Ok(exits)
    }

    /// The test's folder (`*.log` files of the services' stderr, and the SQLite files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The backend the services run on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The orchestrator's database (its saga log).
    pub fn orchestrator_database(&self) -> &Database {
        &self.orchestrator_database
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.log_tails_on_drop {
            for binary in [Binary::Orchestrator, Binary::OrdersSvc, Binary::InvoicesSvc] {
                let log = log_path(self.dir.path(), binary);
                eprintln!(
                    "----- last lines of {} -----\n{}",
                    log.display(),
                    log_tail(&log, LOG_TAIL_LINES)
                );
            }
        }
        if std::env::var_os(KEEP_DIR_ENV).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("kept the test folder {}", self.dir.path().display());
        }
    }
}

/// Addresses of the services, for clients that open their own connections (the benchmark
/// spreads its calls over several).
impl Cluster {
    /// `http_url` as the services are reached: `https://` when the cluster runs TLS.
    fn url_of(&self, http_url: String) -> String {
        match &self.tls {
            Some(_) => http_url.replacen("http://", "https://", 1),
            None => http_url,
        }
    }

    /// The current orchestrator's `http://IP:PORT` URL (`https://` with TLS), while one
    /// runs.
    pub fn orchestrator_url(&self) -> Option<String> {
        let url = self.orchestrator.as_ref().map(ServiceProcess::url)?;
        Some(self.url_of(url))
    }

    /// The current orchestrator's HTTP listener (`--http-listen`, e.g. `127.0.0.1:0` given
    /// through [`ClusterOptions::orchestrator_arg`]), while one runs with it.
    pub fn orchestrator_http_addr(&self) -> Option<std::net::SocketAddr> {
        self.orchestrator
            .as_ref()
            .and_then(ServiceProcess::http_addr)
    }

    /// Where `participant` (`orders-svc` or `invoices-svc`) serves its metrics, when the
    /// cluster was started with them.
    pub fn participant_http_addr(&self, participant: Binary) -> Option<std::net::SocketAddr> {
        match participant {
            Binary::OrdersSvc => self.orders.http_addr(),
            Binary::InvoicesSvc => self.invoices.http_addr(),
            _ => None,
        }
    }

    /// `orders-svc`'s `http://IP:PORT` URL (kept across supervised restarts).
    pub fn orders_url(&self) -> String {
        self.url_of(self.orders.url())
    }

    /// `invoices-svc`'s `http://IP:PORT` URL (kept across supervised restarts).
    pub fn invoices_url(&self) -> String {
        self.url_of(self.invoices.url())
    }
}

/// Whether a saga has ended (FAILED included: it waits for an operator).
pub fn is_terminal(status: SagaStatus) -> bool {
    matches!(
        status,
        SagaStatus::Completed | SagaStatus::Compensated | SagaStatus::Failed
    )
}
