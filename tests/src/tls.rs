//! Certificates for the TLS tests, made on the spot (rcgen): a CA, a server certificate
//! it signed for `localhost` and 127.0.0.1, and client certificates, as PEM files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// The PEM files of one CA and what it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// A new CA named `name` in `dir`, with a server and a client certificate it signed.
    pub fn generate(dir: &Path, name: &str) -> Result<Self> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let write = |file: &str, pem: String| -> Result<PathBuf> {
            let path = dir.join(format!("{name}-{file}.pem"));
            std::fs::write(&path, pem)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        };
        let signed = |names: Vec<String>| -> Result<(String, String)> {
            let key = KeyPair::generate()?;
            let cert = CertificateParams::new(names)?.signed_by(&key, &issuer)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_cert, server_key) = signed(vec!["localhost".into(), "127.0.0.1".into()])?;
        let (client_cert, client_key) = signed(vec![format!("{name}-client")])?;
        Ok(Self {
            ca: write("ca", ca_cert.pem())?,
            server_cert: write("server", server_cert)?,
            server_key: write("server-key", server_key)?,
            client_cert: write("client", client_cert)?,
            client_key: write("client-key", client_key)?,
        })
    }

    /// A client's TLS trusting this CA, presenting its client certificate when `identify`.
    pub fn client(&self, identify: bool) -> Result<ClientTlsConfig> {
        let mut config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(&self.ca)?));
        if identify {
            let cert = std::fs::read(&self.client_cert)?;
            let key = std::fs::read(&self.client_key)?;
            config = config.identity(Identity::from_pem(cert, key));
        }
        Ok(config)
    }

    /// The body of `GET path` over HTTPS at `addr`, trusting this CA and presenting the
    /// client certificate when `identify`; the server must answer 200.
    pub async fn https_get(&self, addr: SocketAddr, path: &str, identify: bool) -> Result<String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match identify {
            true => {
                let chain = CertificateDer::pem_file_iter(&self.client_cert)?
                    .collect::<Result<Vec<_>, _>>()?;
                builder
                    .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(&self.client_key)?)?
            }
            false => builder.with_no_client_auth(),
        };
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tls = connector
            .connect(ServerName::from(addr.ip()), tcp)
            .await
            .with_context(|| format!("TLS handshake with {addr}"))?;
        crate::http::get_over(tls, addr, path).await
    }
}
