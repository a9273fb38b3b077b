//! Starting the cluster's processes: each participant's launch (database, faults), the
//! orchestrator on a fresh port, and the clients' channels.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::CLIENT_TIMEOUT;
use crate::backend::Database;
use crate::binaries::Binary;
use crate::options::ClusterOptions;
use crate::process::ServiceProcess;
use crate::supervisor::Launch;

pub(super) fn participant_launch(
    dir: &TempDir,
    binary: Binary,
    database: Database,
    faults: &str,
    options: &ClusterOptions,
) -> Result<Launch> {
    let faults = match options.changeable_faults {
        true => {
            let path = faults_path(dir.path(), binary);
            std::fs::write(&path, faults)
                .with_context(|| format!("cannot write {}", path.display()))?;
            format!("@{}", path.display())
        }
        false => faults.to_string(),
    };
    let mut args = vec!["--database-url".into(), database.url()];
    if options.metrics {
        args.push("--http-listen=127.0.0.1:0".into());
    }
    if let Some(endpoint) = &options.otlp_endpoint {
        args.push(format!("--otlp-endpoint={endpoint}"));
    }
    if let Some(tls) = &options.tls {
        let flag = |name: &str, path: &Path| format!("--{name}={}", path.display());
        args.push(flag("tls-cert", &tls.server_cert));
        args.push(flag("tls-key", &tls.server_key));
        args.push(flag("tls-client-ca", &tls.ca));
    }
    Ok(Launch {
        name: binary.name(),
        binary: binary.path()?,
        args,
        faults,
        fault_seed: options.fault_seed,
        log: log_path(dir.path(), binary),
    })
}

pub(super) async fn spawn_orchestrator(
    dir: &TempDir,
    binary: &Path,
    args: &[String],
) -> Result<ServiceProcess> {
    let mut all = vec!["--listen".to_string(), "127.0.0.1:0".to_string()];
    all.extend(args.iter().cloned());
    let log = log_path(dir.path(), Binary::Orchestrator);
    ServiceProcess::spawn(Binary::Orchestrator.name(), binary, &all, &log).await
}

/// The file a participant started with changeable faults reads them from.
pub(super) fn faults_path(dir: &Path, binary: Binary) -> PathBuf {
    dir.join(format!("{}.faults", binary.name()))
}

pub(super) fn log_path(dir: &Path, binary: Binary) -> PathBuf {
    dir.join(format!("{}.log", binary.name()))
}

/// The orchestrator's TLS flags: its own server certificate, and mutual TLS towards the
/// participants.
pub(super) fn orchestrator_tls_args(tls: &crate::tls::TlsFiles) -> Vec<String> {
    let flag = |name: &str, path: &Path| format!("--{name}={}", path.display());
    vec![
        flag("tls-cert", &tls.server_cert),
        flag("tls-key", &tls.server_key),
        flag("tls-ca", &tls.ca),
        flag("tls-client-cert", &tls.client_cert),
        flag("tls-client-key", &tls.client_key),
    ]
}

/// A client channel to `url`: over TLS (`https://`) with `tls`.
pub(super) fn channel(url: &str, tls: Option<&ClientTlsConfig>) -> Result<Channel> {
    let mut endpoint =
        Endpoint::from_shared(url.to_string()).with_context(|| format!("bad url {url}"))?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone())?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(5))
        .timeout(CLIENT_TIMEOUT)
        .connect_lazy())
}
