//! TLS for every gRPC listener and client, from PEM files: a server presents
//! `--tls-cert`/`--tls-key` and, given `--tls-client-ca`, requires a client certificate
//! that CA signed (mutual TLS); a client verifies servers against `--tls-ca` and, given
//! `--tls-client-cert`/`--tls-client-key`, presents a certificate of its own. The HTTP
//! listener (`--http-listen`) serves TLS from the same flags (see [`ServerTls::http_config`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A PEM file that cannot be read, or flags that do not go together.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A PEM file whose contents rustls refuses (no certificate, a key that does not
    /// match, an unusable CA).
    #[error("{path}: {why}")]
    Pem { path: String, why: String },
    #[error("{0} is given without {1}")]
    Half(&'static str, &'static str),
    /// A URL whose scheme does not match the TLS flags: plain text where TLS was asked
    /// for, or `https://` without a CA to verify it against.
    #[error("{url}: {why}")]
    Scheme { url: String, why: &'static str },
}

/// Whether `url` may be reached with the client TLS `tls` (as [`ClientTls::config`] made
/// it): `https://` needs it, and with it nothing goes in plain text.
pub fn check_scheme(url: &str, tls: Option<&ClientTlsConfig>) -> Result<(), TlsError> {
    let why = match (url.starts_with("https://"), tls.is_some()) {
        (true, false) => "an https:// URL needs --tls-ca to verify the server against",
        (false, true) => "not https:// while TLS flags are given: it would go in plain text",
        _ => return Ok(()),
    };
    Err(TlsError::Scheme {
        url: url.to_string(),
        why,
    })
}

/// The HTTP listener's TLS (rustls' own configuration: tonic's is for gRPC only).
pub type HttpTls = Arc<rustls::ServerConfig>;

/// A server's TLS, as its flags give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ServerTls {
    /// The server's certificate (PEM): serve TLS only.
    #[arg(
        id = "tls_cert",
        value_name = "FILE",
        long = "tls-cert",
        env = "TLS_CERT"
    )]
    pub cert: Option<PathBuf>,
    /// The server certificate's private key (PEM).
    #[arg(id = "tls_key", value_name = "FILE", long = "tls-key", env = "TLS_KEY")]
    pub key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(
        id = "tls_client_ca",
        value_name = "FILE",
        long = "tls-client-ca",
        env = "TLS_CLIENT_CA"
    )]
    pub client_ca: Option<PathBuf>,
}

impl ServerTls {
    /// The certificate and key files, or `None` for plain connections; flags given by
    /// halves are refused.
    fn files(&self) -> Result<Option<(&Path, &Path)>, TlsError> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) if self.client_ca.is_some() => Err(TlsError::Half(
                "--tls-client-ca",
                "--tls-cert and --tls-key",
            )),
            (None, None) => Ok(None),
            (Some(_), None) => Err(TlsError::Half("--tls-cert", "--tls-key")),
            (None, Some(_)) => Err(TlsError::Half("--tls-key", "--tls-cert")),
        }
    }

    /// The server's TLS configuration, or `None` for plain connections.
    pub fn config(&self) -> Result<Option<ServerTlsConfig>, TlsError> {
        let Some((cert, key)) = self.files()? else {
            return Ok(None);
        };
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
        if let Some(ca) = &self.client_ca {
            config = config.client_ca_root(Certificate::from_pem(read(ca)?));
        }
        Ok(Some(config))
    }

    /// The HTTP listener's TLS from the same flags, or `None` for plain HTTP: the same
    /// certificate, and with `--tls-client-ca` the same demand for a client certificate
    /// (a Prometheus scraper presents one; a browser must have it installed). HTTP/1.1 only.
    pub fn http_config(&self) -> Result<Option<HttpTls>, TlsError> {
        let Some((cert, key)) = self.files()? else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| pem_error(cert, error))?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca_cert in certificates(ca)? {
                    roots.add(ca_cert).map_err(|error| pem_error(ca, error))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|error| pem_error(ca, error))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let key_der =
            PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|error| pem_error(key, error))?;
        let mut config = builder
            .with_single_cert(certificates(cert)?, key_der)
            .map_err(|error| pem_error(key, error))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(config)))
    }
}

/// The certificates of a PEM file, at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(path, error))?;
    if certificates.is_empty() {
        return Err(pem_error(path, "no certificate in it"));
    }
    Ok(certificates)
}

fn pem_error(path: &Path, why: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// A client's TLS towards the services it calls, as its flags give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ClientTls {
    /// Trust the servers this CA signed (PEM), for `https://` URLs.
    #[arg(id = "tls_ca", value_name = "FILE", long = "tls-ca", env = "TLS_CA")]
    pub ca: Option<PathBuf>,
    /// Present this client certificate (PEM) to servers that ask for one.
    #[arg(
        id = "tls_client_cert",
        value_name = "FILE",
        long = "tls-client-cert",
        env = "TLS_CLIENT_CERT"
    )]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        id = "tls_client_key",
        value_name = "FILE",
        long = "tls-client-key",
        env = "TLS_CLIENT_KEY"
    )]
    pub key: Option<PathBuf>,
}

impl ClientTls {
    /// The client's TLS configuration for `https://` URLs, or `None` when no flag is given
    /// (then only `http://` URLs can be reached). Servers are verified against `--tls-ca`
    /// alone, so it is required with the other two.
    pub fn config(&self) -> Result<Option<ClientTlsConfig>, TlsError> {
        if self.ca.is_none() && self.cert.is_none() && self.key.is_none() {
            return Ok(None);
        }
        let Some(ca) = &self.ca else {
            return Err(TlsError::Half("--tls-client-cert", "--tls-ca"));
        };
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            (None, None) => {}
            (Some(_), None) => return Err(TlsError::Half("--tls-client-cert", "--tls-client-key")),
            (None, Some(_)) => return Err(TlsError::Half("--tls-client-key", "--tls-client-cert")),
        }
        Ok(Some(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_given_pairs_are_refused_naming_the_flags() {
        let path = || Some(PathBuf::from("/nonexistent.pem"));
        let server = ServerTls {
            cert: path(),
            ..ServerTls::default()
        };
        assert!(matches!(
            server.config(),
            Err(TlsError::Half("--tls-cert", _))
        ));
        let mtls_without_cert = ServerTls {
            client_ca: path(),
            ..ServerTls::default()
        };
        assert!(matches!(
            mtls_without_cert.config(),
            Err(TlsError::Half("--tls-client-ca", _))
        ));
        let client = ClientTls {
            key: path(),
            ..ClientTls::default()
        };
        assert!(matches!(
            client.config(),
            Err(TlsError::Half(_, "--tls-ca"))
        ));
        assert!(check_scheme("https://a:1", None).is_err());
        assert!(check_scheme("http://a:1", None).is_ok());
        let tls = Some(ClientTlsConfig::new());
        assert!(check_scheme("http://a:1", tls.as_ref()).is_err());
        assert!(check_scheme("https://a:1", tls.as_ref()).is_ok());
        assert!(matches!(ServerTls::default().config(), Ok(None)));
        assert!(matches!(ClientTls::default().config(), Ok(None)));
        let unreadable = ClientTls {
            ca: path(),
            ..ClientTls::default()
        };
        assert!(matches!(unreadable.config(), Err(TlsError::Read { .. })));
    }

    #[test]
    fn a_pem_file_without_a_certificate_is_refused_naming_it() -> Result<(), std::io::Error> {
        let dir = tempfile::tempdir()?;
        let garbage = dir.path().join("cert.pem");
        std::fs::write(&garbage, "not a certificate")?;
        let server = ServerTls {
            cert: Some(garbage.clone()),
            key: Some(garbage),
            client_ca: None,
        };
        let refused = server.http_config();
        assert!(
            matches!(&refused, Err(TlsError::Pem { path, .. }) if path.ends_with("cert.pem")),
            "{refused:?}"
        );
        assert!(matches!(ServerTls::default().http_config(), Ok(None)));
        Ok(())
    }
}
