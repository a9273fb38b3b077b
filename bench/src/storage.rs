//! Where a started stack keeps its data: the backend, and SQLite's durability setting.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// Where the saga log lives in a stack the benchmark starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A SQLite file per service in a fresh temporary folder.
    Sqlite,
    /// A fresh database per service on the `--postgres-url` server.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// SQLite's `synchronous` setting, passed to every service as `?synchronous=` on its
/// database URL (the services' own parameter; FULL is their default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// An fsync per commit: an answered call survives a power loss.
    Full,
    /// No fsync per commit: a crashed process loses nothing, a power loss may lose the
    /// last commits.
    Normal,
}

impl SqliteSync {
    /// The SQLite URL of the database file at `path` with this setting.
    pub fn url(self, path: &std::path::Path) -> String {
        match self {
            // The plain URL: FULL is the default of every service.
            SqliteSync::Full => format!("sqlite://{}", path.display()),
            SqliteSync::Normal => format!("sqlite://{}?synchronous=normal", path.display()),
        }
    }
}

impl std::fmt::Display for SqliteSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SqliteSync::Full => "full",
            SqliteSync::Normal => "normal",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_relaxed_setting_changes_the_url() {
        let path = std::path::Path::new("/tmp/x/orders-svc.db");
        assert_eq!(SqliteSync::Full.url(path), "sqlite:///tmp/x/orders-svc.db");
        assert_eq!(
            SqliteSync::Normal.url(path),
            "sqlite:///tmp/x/orders-svc.db?synchronous=normal"
        );
    }
}
