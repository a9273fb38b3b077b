//! Starting a participant: faults parsed under a logged seed (so a run replays), its
//! database opened and migrated, its listener bound; and serving it until shutdown.
//! Faults given as `@FILE` are read from the file, and again on every SIGHUP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use super::faults_file::FaultsFile;
use crate::db::{Db, Migrations, OpenError};
use crate::faults::{FaultSpecError, Faults};

/// Why a participant could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The `--faults` spec does not parse; nothing was created.
    #[error("invalid --faults")]
    Faults(#[from] FaultSpecError),
    /// The TLS files cannot be read, or are given by halves; nothing was created.
    #[error("invalid TLS flags")]
    Tls(#[from] crate::tls::TlsError),
    /// The `--faults @FILE` file cannot be read (or SIGHUP listened for); nothing was
    /// created.
    #[error("cannot read the faults file {path}")]
    FaultsFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The participant's database cannot be opened or migrated.
    #[error("cannot open the {service} database")]
    Database {
        service: &'static str,
        #[source]
        source: OpenError,
    },
    /// The `--listen` address cannot be bound (or its bound address read).
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// The flags every participant takes, borrowed from its own `Config`.
#[derive(Debug, Clone, Copy)]
pub struct Flags<'a> {
    /// The address to serve on (`--listen`); port 0 picks a free port.
    pub listen: &'a str,
    /// The address to serve `GET /metrics` on (`--http-listen`), if any.
    pub http_listen: Option<&'a str>,
    /// TLS on the gRPC listener (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub tls: &'a crate::tls::ServerTls,
    /// The database, `sqlite://PATH` or `postgres://…`.
    pub database_url: &'a str,
    /// The `--faults` spec; empty: none; `@FILE`: the spec in FILE, read again on SIGHUP.
    pub faults: &'a str,
    /// The seed of the fault draws; absent: taken from the clock and logged.
    pub fault_seed: Option<u64>,
    /// How long opening the database may keep failing before the start is given up.
    pub startup_timeout: std::time::Duration,
}

/// A participant ready to serve: faults parsed, database open and migrated, listener
/// bound, nothing served yet.
#[derive(Debug)]
pub struct Ready {
    listener: TcpListener,
    local_addr: SocketAddr,
    /// `--http-listen`'s (metrics), if asked for.
    http: Option<(TcpListener, SocketAddr)>,
    tls: Option<tonic::transport::ServerTlsConfig>,
    http_tls: Option<crate::tls::HttpTls>,
    db: Db,
    faults: Arc<Faults>,
    /// The file the faults were read from, to read again on SIGHUP.
    faults_file: Option<FaultsFile>,
}

impl Ready {
    /// Readies the participant named `service` (as errors name its database) with its
    /// schema `migrations` (one set per backend), listening on `flags.listen`.
    pub async fn build(
        service: &'static str,
        migrations: &Migrations,
        flags: Flags<'_>,
    ) -> Result<Self, StartupError> {
        let listener = crate::serve::bind(flags.listen)
            .await
            .map_err(|source| cannot_listen(flags, source))?;
        Self::build_with_listener(service, migrations, flags, listener).await
    }

    /// Like [`Ready::build`] on an already-bound `listener` (`flags.listen` only names it
    /// in errors). The fault spec is checked before the database is touched, so a bad
    /// flag creates nothing.
    pub async fn build_with_listener(
        service: &'static str,
        migrations: &Migrations,
        flags: Flags<'_>,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let tls = flags.tls.config()?;
        let http_tls = flags.tls.http_config()?;
        let seed = flags.fault_seed.unwrap_or_else(seed_from_clock);
        let (faults_file, spec) = match FaultsFile::open(flags.faults)? {
            Some((file, spec)) => (Some(file), spec),
            None => (None, flags.faults.to_string()),
        };
        let faults = Faults::parse(&spec, seed)?;
        if !spec.trim().is_empty() {
            tracing::info!(faults = %spec, seed, "injecting faults");
        }
        let http = match flags.http_listen {
            Some(addr) => Some(bind_http(addr).await?),
            None => None,
        };
        let db = Db::open_patiently(flags.database_url, migrations, flags.startup_timeout)
            .await
            .map_err(|source| StartupError::Database { service, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| cannot_listen(flags, source))?;
        Ok(Self {
            listener,
            local_addr,
            http,
            tls,
            http_tls,
            db,
            faults: Arc::new(faults),
            faults_file,
        })
    }

    /// The address actually bound (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The HTTP listener's address (`--http-listen`), if there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(_, addr)| *addr)
    }

    /// The participant's database, for building its gRPC service.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The faults to inject into every RPC, for building its gRPC service.
    pub fn faults(&self) -> Arc<Faults> {
        Arc::clone(&self.faults)
    }

    /// Serves `routes` (the gRPC service `service`, plus health, and reflection over
    /// `descriptors`: see [`crate::serve::serve`]) until `shutdown` is cancelled, lets
    /// in-flight RPCs finish, then closes the database.
    pub async fn serve(
        self,
        service: &'static str,
        routes: Routes,
        descriptors: &'static [u8],
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        if let Some(file) = self.faults_file {
            tokio::spawn(file.reload_on_sighup(self.faults, shutdown.clone()));
        }
        if let Some((listener, _)) = self.http {
            let (stopping, tls) = (shutdown.clone(), self.http_tls);
            tokio::spawn(async move {
                let routes = axum::Router::new();
                if let Err(error) = crate::http::serve(listener, routes, tls, stopping).await {
                    tracing::error!(%error, "the HTTP listener failed");
                }
            });
        }
        let serving = crate::serve::Serving {
            service,
            database: Some(self.db.clone()),
            descriptors,
            drain: crate::serve::DEFAULT_DRAIN,
            max_streams: None,
            tls: self.tls,
        };
        let served = crate::serve::serve(self.listener, routes, serving, shutdown).await;
        self.db.close().await;
        served
    }
}

async fn bind_http(addr: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let failed = |source| StartupError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = crate::serve::bind(addr).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    Ok((listener, bound))
}

fn cannot_listen(flags: Flags<'_>, source: std::io::Error) -> StartupError {
    StartupError::Bind {
        addr: flags.listen.to_string(),
        source,
    }
}

/// A fault seed for a run that was given none: the clock's nanoseconds.
pub fn seed_from_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use sqlx::migrate::Migrator;

    use super::*;
    use crate::on_backend;

    /// Names the PostgreSQL server of the tests, e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
    const POSTGRES_ENV: &str = "SAGA_TEST_POSTGRES_URL";

    static NO_TLS: crate::tls::ServerTls = crate::tls::ServerTls {
        cert: None,
        key: None,
        client_ca: None,
    };

    const NO_SCHEMA: &Migrations = &Migrations {
        sqlite: Migrator::DEFAULT,
        postgres: Migrator::DEFAULT,
    };

    fn flags<'a>(database_url: &'a str, faults: &'a str) -> Flags<'a> {
        Flags {
            listen: "127.0.0.1:0",
            http_listen: None,
            tls: &NO_TLS,
            database_url,
            faults,
            fault_seed: Some(7),
            startup_timeout: std::time::Duration::from_secs(20),
        }
    }

    /// A fresh database URL of each available backend; the folder keeps the SQLite file.
    async fn database_urls() -> (tempfile::TempDir, Vec<String>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut urls = vec![format!("sqlite://{}", dir.path().join("o.db").display())];
        if let Ok(server) = std::env::var(POSTGRES_ENV) {
            let url = crate::db::fresh_postgres_database(&server)
                .await
                .expect("create a postgres database");
            urls.push(url);
        }
        (dir, urls)
    }

    #[tokio::test]
    async fn a_participant_is_readied_on_the_listener_it_is_given() {
        let (_dir, urls) = database_urls().await;
        for url in urls {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let bound = listener.local_addr().expect("bound address");
            let flags = flags(&url, "*:unavailable:0.5");
            let ready = Ready::build_with_listener("orders", NO_SCHEMA, flags, listener)
                .await
                .expect("ready");
            assert_eq!(ready.local_addr(), bound);
            let mut tx = ready.db().begin_read().await.expect("begin");
            let one: i64 = on_backend!(&mut tx, conn => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
                .fetch_one(conn)
                .await
                .expect("the database answers"));
            assert_eq!(one, 1, "{url}");
            tx.commit().await.expect("commit");
        }
    }

    #[tokio::test]
    async fn a_database_server_that_comes_up_during_the_start_is_waited_for() {
        let Ok(server) = std::env::var(POSTGRES_ENV) else {
            eprintln!("{POSTGRES_ENV} is not set: SKIPPED");
            return;
        };
        let url = crate::db::fresh_postgres_database(&server)
            .await
            .expect("create a postgres database");
        let upstream = url_authority(&url);
        // A port where nothing listens yet: connecting is refused until the relay binds it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let late_url = url.replacen(&upstream, &port.to_string(), 1);
        let start =
            tokio::spawn(
                async move { Ready::build("orders", NO_SCHEMA, flags(&late_url, "")).await },
            );
        // The server "comes up" a while after the start began.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let relay = TcpListener::bind(port).await.expect("bind the late port");
        tokio::spawn(async move {
            while let Ok((mut client, _)) = relay.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        let ready = start.await.expect("join");
        assert!(ready.is_ok(), "{:?}", ready.err());
    }

    /// The `HOST:PORT` of a database URL.
    fn url_authority(url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let rest = rest.split_once('@').map_or(rest, |(_, host)| host);
        rest.split('/').next().unwrap_or(rest).to_string()
    }

    #[tokio::test]
    async fn a_bad_fault_spec_is_refused_before_the_database_is_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("o.db");
        let url = format!("sqlite://{}", file.display());
        let refused = Ready::build("orders", NO_SCHEMA, flags(&url, "X")).await;
        assert!(
            matches!(refused, Err(StartupError::Faults(_))),
            "{refused:?}"
        );
        assert!(!file.exists());
    }

    #[tokio::test]
    async fn an_unusable_database_is_refused_naming_the_participant() {
        for url in ["mysql://x", "postgres://[not-a-host"] {
            let refused = Ready::build("orders", NO_SCHEMA, flags(url, "")).await;
            let message = refused.map(|_| ()).map_err(|error| error.to_string());
            assert_eq!(
                message,
                Err("cannot open the orders database".to_string()),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn a_taken_address_is_refused_naming_it() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = taken.local_addr().expect("bound address").to_string();
        let flags = Flags {
            listen: &addr,
            ..flags("sqlite://unused.db", "")
        };
        let refused = Ready::build("orders", NO_SCHEMA, flags).await;
        let message = refused.map(|_| ()).map_err(|error| error.to_string());
        assert_eq!(message, Err(format!("cannot listen on {addr}")));
    }
}
