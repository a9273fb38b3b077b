//! The matrix's cells: every backend × compensating share × concurrency with one
//! orchestrator, then SQLite with `synchronous=normal` and PostgreSQL with more replicas at
//! a few concurrencies; and the flags of a cell's run.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{MatrixConfig, parse_run};
use crate::config::{Backend, Config, SqliteSync};

/// One setting of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub backend: Backend,
    /// SQLite's `synchronous` (FULL on PostgreSQL cells, where it means nothing).
    pub sqlite_sync: SqliteSync,
    pub replicas: u32,
    pub concurrency: u32,
    pub compensate: f64,
}

/// The cells `config` asks for, and the backends left out (with why).
pub fn cells(config: &MatrixConfig) -> (Vec<Cell>, Vec<String>) {
    let mut cells = Vec::new();
    let mut skipped = Vec::new();
    for &backend in &config.backends {
        if backend == Backend::Postgres && config.postgres_url.is_none() {
            skipped.push(
                "PostgreSQL left out: no --postgres-url and no SAGA_TEST_POSTGRES_URL".into(),
            );
            continue;
        }
        if cells.iter().any(|c: &Cell| c.backend == backend) {
            continue;
        }
        for &compensate in &config.compensate {
            for &concurrency in &config.concurrency {
                cells.push(Cell {
                    backend,
                    sqlite_sync: SqliteSync::Full,
                    replicas: 1,
                    concurrency,
                    compensate,
                });
            }
        }
        if backend == Backend::Sqlite {
            for &concurrency in &config.sqlite_normal_concurrency {
                cells.push(Cell {
                    backend,
                    sqlite_sync: SqliteSync::Normal,
                    replicas: 1,
                    concurrency,
                    compensate: 0.0,
                });
            }
        }
        if backend == Backend::Postgres {
            for &replicas in &config.replicas {
                let cell = Cell {
                    backend,
                    sqlite_sync: SqliteSync::Full,
                    replicas,
                    concurrency: config.replicas_concurrency,
                    compensate: 0.0,
                };
                if !cells.contains(&cell) {
                    cells.push(cell);
                }
            }
        }
    }
    (cells, skipped)
}

impl Cell {
    /// The backend as the table names it: `sqlite (normal)` when relaxed.
    pub fn storage(&self) -> String {
        match self.sqlite_sync {
            SqliteSync::Full => self.backend.to_string(),
            SqliteSync::Normal => format!("{} (normal)", self.backend),
        }
    }

    /// Whether this cell runs with the services' durable default.
    pub fn durable(&self) -> bool {
        self.sqlite_sync == SqliteSync::Full
    }

    /// Short name for progress lines.
    pub fn label(&self) -> String {
        format!(
            "{} ×{} c{} {:.0}%",
            self.storage(),
            self.replicas,
            self.concurrency,
            self.compensate * 100.0
        )
    }

    /// The flags of this cell's `round`th run: closed loop for the matrix's duration,
    /// quiet, on a fresh stack; each round with its own seed.
    pub fn run_config(&self, matrix: &MatrixConfig, round: u32) -> Result<Config> {
        let mut args: Vec<String> = [
            ("--backend", self.backend.to_string()),
            ("--replicas", self.replicas.to_string()),
            ("--concurrency", self.concurrency.to_string()),
            ("--compensate-share", self.compensate.to_string()),
            ("--duration", matrix.duration.to_string()),
            ("--connections", matrix.connections.to_string()),
            ("--seed", (7 + u64::from(round)).to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect();
        args.push("--quiet".into());
        match (self.backend, &matrix.postgres_url) {
            (Backend::Postgres, Some(url)) => {
                args.extend(["--postgres-url".to_string(), url.clone()]);
            }
            (Backend::Postgres, None) => {}
            (Backend::Sqlite, _) => {
                args.extend(["--sqlite-sync".to_string(), self.sqlite_sync.to_string()]);
            }
        }
        let config = parse_run(&args)?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        matrix: MatrixConfig,
    }

    fn matrix(args: &[&str]) -> MatrixConfig {
        let mut all = vec!["matrix"];
        all.extend(args);
        Flags::try_parse_from(all).expect("flags").matrix
    }

    #[test]
    fn the_standard_matrix_has_eight_cells_per_backend_and_two_more_of_sync_and_replicas() {
        let (cells, skipped) = cells(&matrix(&["--postgres-url", "postgres://u@h:1/p"]));
        assert!(skipped.is_empty());
        assert_eq!(cells.len(), 20);
        let relaxed: Vec<u32> = cells
            .iter()
            .filter(|c| !c.durable())
            .map(|c| c.concurrency)
            .collect();
        assert_eq!(relaxed, [1, 64]);
        let replicas: Vec<u32> = cells
            .iter()
            .filter(|c| c.backend == Backend::Postgres && c.concurrency == 64)
            .filter(|c| c.compensate == 0.0)
            .map(|c| c.replicas)
            .collect();
        assert_eq!(replicas, [1, 2, 4]);
    }

    #[test]
    fn without_a_server_postgres_is_left_out_and_said_so() {
        let config = MatrixConfig {
            postgres_url: None,
            ..matrix(&[])
        };
        let (cells, skipped) = cells(&config);
        assert_eq!(cells.len(), 10);
        assert!(cells.iter().all(|c| c.backend == Backend::Sqlite));
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn a_cells_run_has_its_settings_and_a_seed_per_round() {
        let config = matrix(&["--postgres-url", "postgres://u@h:1/p", "--duration", "2"]);
        let cell = Cell {
            backend: Backend::Postgres,
            sqlite_sync: SqliteSync::Full,
            replicas: 2,
            concurrency: 64,
            compensate: 0.1,
        };
        let run = cell.run_config(&config, 1).expect("run flags");
        assert_eq!(
            (run.backend, run.replicas, run.concurrency, run.seed),
            (Backend::Postgres, 2, 64, 8)
        );
        assert_eq!((run.compensate_share, run.duration), (0.1, Some(2.0)));
        assert!(run.quiet && !run.json);
        let relaxed = Cell {
            backend: Backend::Sqlite,
            sqlite_sync: SqliteSync::Normal,
            replicas: 1,
            ..cell
        };
        let run = relaxed.run_config(&config, 0).expect("run flags");
        assert_eq!(
            (run.backend, run.sqlite_sync),
            (Backend::Sqlite, SqliteSync::Normal)
        );
    }
}
