//! TLS for every gRPC listener and client, from PEM files: a server presents
//! `--tls-cert`/`--tls-key` and, given `--tls-client-ca`, requires a client certificate
//! that CA signed (mutual TLS); a client verifies servers against `--tls-ca` and, given
//! `--tls-client-cert`/`--tls-client-key`, presents a certificate of its own.

use std::path::{Path, PathBuf};

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
    /// The server's TLS configuration, or `None` for plain connections.
    pub fn config(&self) -> Result<Option<ServerTlsConfig>, TlsError> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) if self.client_ca.is_some() => {
                return Err(TlsError::Half(
                    "--tls-client-ca",
                    "--tls-cert and --tls-key",
                ));
            }
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(TlsError::Half("--tls-cert", "--tls-key")),
            (None, Some(_)) => return Err(TlsError::Half("--tls-key", "--tls-cert")),
        };
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
        if let Some(ca) = &self.client_ca {
            config = config.client_ca_root(Certificate::from_pem(read(ca)?));
        }
        Ok(Some(config))
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
        if self.ca.is_none() {
            return Err(TlsError::Half("--tls-client-cert", "--tls-ca"));
        }
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.ca {
            config = config.ca_certificate(Certificate::from_pem(read(ca)?));
        }
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
}
