//! Building the orchestrator from its config and running it until shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::api::{Limits, OrchestratorApi};
use crate::auth::{Access, TokenFileError};
use crate::config::Config;
use crate::definitions::{BUILT_IN, DefinitionError, Definitions, ParticipantSchemas, SchemaError};
use crate::engine::{Engine, Entropy, InvalidUrl, Participants, SystemClock};
use crate::invoicing::{Invoicing, Trigger};
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_server::OrchestratorServer;

/// Why the orchestrator could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the saga log")]
    Database(#[from] service_kit::db::OpenError),
    #[error(transparent)]
    Url(#[from] InvalidUrl),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server failed")]
    Serve(#[from] tonic::transport::Error),
    #[error("invalid TLS flags")]
    Tls(#[from] service_kit::tls::TlsError),
    #[error("cannot use the participants' schemas")]
    Schemas(#[from] SchemaError),
    #[error("cannot register the saga definitions")]
    Definitions(#[from] DefinitionError),
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    #[error("cannot listen for SIGHUP")]
    Signals {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the definitions in {path}")]
    DefinitionsDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// How long to wait between two attempts to register the built-in definitions.
const REGISTER_PAUSE: Duration = Duration::from_millis(200);

/// A ready orchestrator: saga log open, listeners bound, nothing running yet.
pub struct App {
    listener: TcpListener,
    /// `--http-listen`'s (metrics and the web page), if asked for.
    http: Option<TcpListener>,
    /// `--http-allowed-hosts`, for the web page's guard.
    http_allowed_hosts: Vec<String>,
    /// Who may do what (`--auth-token-file`).
    access: Access,
    /// SIGHUP, listened for from the start: the token file is read again on it.
    hangups: tokio::signal::unix::Signal,
    /// The limits against abuse: the API's, the request size and streams per connection.
    limits: Limits,
    max_request_bytes: usize,
    max_streams_per_connection: u32,
    /// TLS on the gRPC listener, if asked for.
    tls: Option<tonic::transport::ServerTlsConfig>,
    /// TLS on the HTTP listener, from the same flags.
    http_tls: Option<service_kit::tls::HttpTls>,
    /// The saga log's database, whose answering health reports.
    database: service_kit::db::Db,
    engine: Engine,
    definitions: Definitions,
    invoicing: (Trigger, Invoicing),
    drain: Duration,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let access = match &config.auth_token_file {
            Some(path) => Access::from_file(path, config.auth_read)?,
            None => Access::open(),
        };
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|source| StartupError::Signals { source })?;
        let patience = Duration::from_millis(config.startup_timeout_ms);
        let store = crate::store::open(&config.database_url, config.max_batch, patience).await?;
        let database = store.database().clone();
        let server_tls = config.tls.config()?;
        let http_tls = config.tls.http_config()?;
        let client_tls = config.participant_tls.config()?;
        for (_, url) in config.participant_urls() {
            service_kit::tls::check_scheme(&url, client_tls.as_ref())?;
        }
        let schemas = Arc::new(participant_schemas(&config, client_tls.as_ref())?);
        // Fetched in the background: a participant that hangs must not hold up the
        // start, and a definition registered before needs no schema to be found again.
        tokio::spawn({
            let schemas = schemas.clone();
            async move { schemas.refresh().await }
        });
        let definitions = Definitions::new(store.clone(), schemas);
        let give_up = tokio::time::Instant::now() + patience;
        register_until(give_up, || definitions.register_built_in()).await?;
        if let Some(dir) = &config.definitions {
            register_dir(&definitions, dir, give_up).await?;
        }
        let participants = Participants::connect(
            &config.participant_urls(),
            usize::from(config.participant_connections),
            Duration::from_millis(config.call_timeout_ms),
            client_tls.as_ref(),
        )?;
        let seed = config.seed.unwrap_or_else(seed_from_clock);
        let replica_id = config
            .replica_id
            .clone()
            .unwrap_or_else(crate::config::unique_replica_id);
        tracing::info!(replica.id = %replica_id, "orchestrator replica");
        let engine = Engine::new(
            store.clone(),
            definitions.clone(),
            participants,
            Arc::new(SystemClock),
            Entropy::seeded(seed),
            config.engine_settings(replica_id.clone()),
        );
        let invoicing = Invoicing {
            engine: engine.clone(),
            definitions: definitions.clone(),
            orders: OrdersClient::new(crate::engine::channel(
                &config.orders_url,
                client_tls.as_ref(),
            )?),
            feeds: store,
            nats_url: config.nats_url.clone(),
            holder: format!("{replica_id}/{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_millis(config.lease_ms.max(30)),
            sync: config.sync_settings(),
        };
        let listener = bind(&config.listen).await?;
        let http = match &config.http_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        if config.http_listen.is_some() {
            // The recorder first: what is described or counted without one is lost.
            service_kit::http::metrics();
        }
        crate::metrics::describe();
        Ok(Self {
            listener,
            http,
            http_allowed_hosts: config.http_allowed_hosts.clone(),
            access,
            hangups,
            limits: Limits::new(
                config.max_watchers_per_connection,
                config.operator_actions_per_minute,
            ),
            max_request_bytes: config.max_request_bytes,
            max_streams_per_connection: config.max_streams_per_connection,
            tls: server_tls,
            http_tls,
            database,
            engine,
            definitions,
            invoicing: (config.invoice_trigger, invoicing),
            drain: Duration::from_millis(config.drain_timeout_ms),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The HTTP listener's address, if there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Resumes unfinished sagas, serves until `shutdown`, then drains in-flight calls.
    pub async fn run_until(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        // Before serving: new sagas must not be mistaken for leftovers of a past run.
        tokio::select! {
            () = self.engine.resume_own() => {}
            () = shutdown.cancelled() => {}
        }
        self.engine.spawn_ownership();
        tokio::spawn(
            self.access
                .clone()
                .reload_on_sighup(self.hangups, shutdown.clone()),
        );
        let api = OrchestratorApi::new(
            self.engine.clone(),
            self.definitions.clone(),
            self.access.clone(),
            self.limits.clone(),
        );
        if let Some(listener) = self.http {
            let (stopping, tls) = (shutdown.clone(), self.http_tls.clone());
            let page = crate::web::router(api.clone(), &self.http_allowed_hosts);
            tokio::spawn(async move {
                if let Err(error) = service_kit::http::serve(listener, page, tls, stopping).await {
                    tracing::error!(%error, "the HTTP listener failed");
                }
            });
        }
        let (trigger, invoicing) = self.invoicing;
        invoicing.spawn(trigger, shutdown.clone());
        let routes = Routes::new(api.into_service(self.max_request_bytes));
        // The server's drain and the engine's run side by side from the same signal, so
        // the process is gone within one --drain-timeout-ms of SIGTERM, not two.
        let engine = self.engine.clone();
        let stopping = shutdown.clone();
        let drain = self.drain;
        let draining = async move {
            stopping.cancelled().await;
            engine.drain(drain).await;
        };
        let serving = service_kit::serve::Serving {
            service: <OrchestratorServer<OrchestratorApi> as tonic::server::NamedService>::NAME,
            database: Some(self.database.clone()),
            descriptors: saga_contracts::FILE_DESCRIPTOR_SET,
            drain: self.drain,
            max_streams: Some(self.max_streams_per_connection),
            tls: self.tls,
        };
        let serving = service_kit::serve::serve(self.listener, routes, serving, shutdown);
        let (served, ()) = tokio::join!(serving, draining);
        served?;
        tracing::info!("orchestrator stopped");
        Ok(())
    }
}

async fn bind(addr: &str) -> Result<TcpListener, StartupError> {
    service_kit::serve::bind(addr)
        .await
        .map_err(|source| StartupError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// The built-in participants, the `--participant`s and the `--descriptor-set`s.
fn participant_schemas(
    config: &Config,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<ParticipantSchemas, SchemaError> {
    let participants: Vec<(String, String)> = config
        .participant_urls()
        .into_iter()
        .filter(|(service, _)| !BUILT_IN.contains(&service.as_str()))
        .collect();
    let sets = config
        .descriptor_sets
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|source| SchemaError::Read {
                path: path.display().to_string(),
                source,
            })?;
            Ok((path.display().to_string(), bytes))
        })
        .collect::<Result<Vec<_>, SchemaError>>()?;
    ParticipantSchemas::new(true, &participants, &sets, tls)
}

/// Runs `register` until it is done, retrying while the database is unreachable, until
/// `give_up`.
async fn register_until<T, F, Fut>(
    give_up: tokio::time::Instant,
    register: F,
) -> Result<T, DefinitionError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, DefinitionError>>,
{
    loop {
        match register().await {
            Err(DefinitionError::Store(error)) if tokio::time::Instant::now() < give_up => {
                tracing::warn!(%error, "cannot register the saga definitions yet; retrying");
                tokio::time::sleep(REGISTER_PAUSE).await;
            }
            done => return done,
        }
    }
}

/// Registers every definition file in `dir` (`*.json`, `*.yaml`, `*.yml`), in name
/// order.
async fn register_dir(
    definitions: &Definitions,
    dir: &Path,
    give_up: tokio::time::Instant,
) -> Result<(), StartupError> {
    let unreadable = |source| StartupError::DefinitionsDir {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| saga_definitions::file::is_definition_file(&path.to_string_lossy()))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(unreadable)?;
        let name = path.display().to_string();
        let registered =
            register_until(give_up, || definitions.register_file(&name, &text)).await?;
        tracing::info!(file = %name, definition = %registered.name, version = registered.version, "definition from the definitions folder");
    }
    Ok(())
}

fn seed_from_clock() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos() & u128::from(u64::MAX)).unwrap_or(0)
        ^ u64::from(std::process::id())
}
