//! Reaching the orchestrator: its URL and the operator's token, shared by every command
//! that talks to it. The token (`--token`, `SAGA_TOKEN`, or the first line of a token
//! file) goes with every request as `authorization: Bearer TOKEN`.

use std::path::PathBuf;

use anyhow::Context;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::output::Usage;

pub const DEFAULT_URL: &str = "http://127.0.0.1:50051";
/// Where the token is read from when neither `--token` nor `--token-file` says, under
/// the user's configuration folder.
const DEFAULT_TOKEN_FILE: &str = "saga/token";

/// A client of the orchestrator that sends the token, if there is one.
pub type Client = OrchestratorClient<InterceptedService<Channel, Bearer>>;

/// The flags of every command that talks to the orchestrator.
#[derive(Debug, Clone, clap::Args)]
pub struct OrchestratorArgs {
    #[arg(long, env = "ORCHESTRATOR_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// The operator's token (needed where the orchestrator checks tokens).
    #[arg(long, env = "SAGA_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// A file whose first line is the token [default: $XDG_CONFIG_HOME/saga/token or
    /// ~/.config/saga/token, when it exists].
    #[arg(long, env = "SAGA_TOKEN_FILE", conflicts_with = "token", global = true)]
    token_file: Option<PathBuf>,
    /// TLS towards an `https://` orchestrator.
    #[command(flatten)]
    tls: service_kit::tls::ClientTls,
}

impl OrchestratorArgs {
    /// The orchestrator at `url`, with the token from the environment or the token file.
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_string(),
            token: std::env::var("SAGA_TOKEN").ok(),
            token_file: None,
            tls: service_kit::tls::ClientTls::default(),
        }
    }

    /// Connects to the orchestrator at `--url`.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let bearer = Bearer::new(self.token()?)?;
        let mut endpoint = Channel::from_shared(self.url.clone())
            .map_err(|_| Usage(format!("--url {:?} is not a URL", self.url)))?;
        let tls = self
            .tls
            .config()
            .map_err(|e| Usage(service_kit::telemetry::error_chain(&e)))?;
        service_kit::tls::check_scheme(&self.url, tls.as_ref())
            .map_err(|e| Usage(e.to_string()))?;
        if let Some(tls) = tls {
            endpoint = endpoint
                .tls_config(tls)
                .context("cannot use the TLS flags")?;
        }
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot reach the orchestrator at {}", self.url))?;
        Ok(OrchestratorClient::with_interceptor(channel, bearer))
    }

    /// The token from the flags, the environment or the token file, if any.
    fn token(&self) -> anyhow::Result<Option<String>> {
        if let Some(token) = &self.token {
            return Ok(Some(token.trim().to_string()));
        }
        let (path, given) = match &self.token_file {
            Some(path) => (path.clone(), true),
            None => match default_token_file() {
                Some(path) => (path, false),
                None => return Ok(None),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text.lines().next().map(|line| line.trim().to_string())),
            Err(error) if !given && error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Usage(format!(
                "cannot read the token file {}: {error}",
                path.display()
            ))
            .into()),
        }
    }
}

fn default_token_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join(DEFAULT_TOKEN_FILE))
}

/// Adds `authorization: Bearer TOKEN` to every request when there is a token.
#[derive(Clone)]
pub struct Bearer(Option<AsciiMetadataValue>);

impl Bearer {
    fn new(token: Option<String>) -> anyhow::Result<Self> {
        let value = token
            .filter(|t| !t.is_empty())
            .map(|t| format!("Bearer {t}").parse::<AsciiMetadataValue>())
            .transpose()
            .map_err(|_| Usage("the token holds characters a header cannot carry".into()))?;
        Ok(Self(value))
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}
