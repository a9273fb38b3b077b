//! The storage backends the services run on in the end-to-end tests and the chaos runner:
//! SQLite files (always) and PostgreSQL (when `SAGA_TEST_POSTGRES_URL` names a server),
//! each service on a fresh database of its own.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::binaries::Binary;

/// Names the PostgreSQL server of the tests, e.g. `postgres://postgres@127.0.0.1:5433/postgres`
/// (a user that may `CREATE DATABASE`). Unset: the tests run on SQLite only.
pub const POSTGRES_ENV: &str = "SAGA_TEST_POSTGRES_URL";

/// Where the services of one test or campaign keep their data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// A SQLite file per service in the test's folder (the embedded default).
    #[default]
    Sqlite,
    /// A fresh database per service on this PostgreSQL server.
    Postgres {
        /// A URL of any database on the server, used to create the fresh ones.
        server_url: String,
    },
}

impl Backend {
    /// SQLite, then PostgreSQL when [`POSTGRES_ENV`] names a server.
    pub fn available() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        backends.extend(Self::postgres_from_env());
        backends
    }

    /// PostgreSQL on the server [`POSTGRES_ENV`] names, if it is set (and not empty).
    pub fn postgres_from_env() -> Option<Backend> {
        std::env::var(POSTGRES_ENV)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .map(|server_url| Backend::Postgres { server_url })
    }

    /// `sqlite` or `postgres`, as `saga-chaos --backend` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// A new, empty database for `binary`: a file in `dir`, or a fresh PostgreSQL
    /// database (never shared with another service, test or run).
    pub async fn database(&self, dir: &Path, binary: Binary) -> Result<Database> {
        match self {
            Backend::Sqlite => Ok(Database::Sqlite(dir.join(format!("{}.db", binary.name())))),
            Backend::Postgres { server_url } => {
                let url = service_kit::db::fresh_postgres_database(server_url)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot create a database for {} on the PostgreSQL server {}",
                            binary.name(),
                            redact(server_url)
                        )
                    })?;
                Ok(Database::Postgres { url })
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Sqlite => write!(f, "SQLite"),
            Backend::Postgres { server_url } => write!(f, "PostgreSQL ({})", redact(server_url)),
        }
    }
}

/// One service's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created by the service on its first start).
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its URL.
    Postgres { url: String },
}

impl Database {
    /// Fills this new, empty database with `binary`'s database in `folder`: a copy of
    /// `folder/sqlite/<binary>.db`, or `folder/postgres/<binary>.sql` run by `psql` (a
    /// plain `pg_dump`).
    pub async fn load(&self, folder: &Path, binary: Binary) -> Result<()> {
        let name = binary.fixture_name();
        match self {
            Database::Sqlite(path) => {
                let from = folder.join("sqlite").join(format!("{name}.db"));
                std::fs::copy(&from, path)
                    .with_context(|| format!("cannot copy {}", from.display()))?;
            }
            Database::Postgres { url } => {
                let dump = folder.join("postgres").join(format!("{name}.sql"));
                let ran = tokio::process::Command::new("psql")
                    .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
                    .arg(&dump)
                    .output()
                    .await
                    .context("cannot run psql (PostgreSQL's client)")?;
                anyhow::ensure!(
                    ran.status.success(),
                    "psql could not load {}: {}",
                    dump.display(),
                    String::from_utf8_lossy(&ran.stderr)
                );
            }
        }
        Ok(())
    }

    /// The service's `--database-url`.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres { url } => url.clone(),
        }
    }
}

/// Runs `test` once per [`Backend::available`], one after the other, saying on stderr
/// which backend runs (the test runner shows it for a failed test). An error on one
/// backend does not skip the next: every backend's error is returned, each named.
pub async fn on_every_backend<F, Fut>(mut test: F) -> Result<()>
where
    F: FnMut(Backend) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let backends = Backend::available();
    if backends.len() == 1 {
        eprintln!("== {POSTGRES_ENV} is not set: the PostgreSQL half of this test is SKIPPED");
    }
    let mut failed = Vec::new();
    for backend in backends {
        eprintln!("== on {backend}");
        let name = backend.to_string();
        if let Err(e) = test(backend).await {
            eprintln!("== FAILED on {name}: {e:#}");
            failed.push(format!("on {name}: {e:#}"));
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        _ => bail!("{}", failed.join("\n")),
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}{name}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_a_message() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h:5432/db", "postgres://u@h:5432/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("not a url", "not a url"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
        }
    }

    #[test]
    fn a_database_names_its_service_url() {
        assert_eq!(
            Database::Sqlite(PathBuf::from("/t/orders-svc.db")).url(),
            "sqlite:///t/orders-svc.db"
        );
        let url = "postgres://u@h/saga_test_1".to_string();
        assert_eq!(Database::Postgres { url: url.clone() }.url(), url);
    }
}
