//! What the durable saga log costs per saga: its records (read back with GetSaga), the
//! growth of the orchestrator's database (SQLite file + WAL, or PostgreSQL database) over
//! the saga phase, and on PostgreSQL the WAL the server wrote meanwhile.

use std::path::{Path, PathBuf};

use saga_contracts::saga::v1::{Saga, SagaStatus};
use serde::Serialize;

/// The saga log's cost, per saga that ended in the saga phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogCost {
    /// This run's sagas read back with their logs.
    pub sagas_read: usize,
    pub records_per_saga: Option<f64>,
    pub records_per_completed_saga: Option<f64>,
    pub records_per_compensated_saga: Option<f64>,
    /// Growth of the orchestrator's database + WAL files (a WAL is reused after a
    /// checkpoint, so this is a floor on the bytes written; see the disk writes too), or
    /// of its PostgreSQL database.
    pub db_growth_bytes_per_saga: Option<f64>,
    /// WAL the PostgreSQL server wrote over the saga phase, for all three services (and
    /// anything else on that server).
    pub wal_bytes_per_saga: Option<f64>,
}

/// Bytes added over the saga phase, where known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Growth {
    /// The saga log's database.
    pub db: Option<u64>,
    /// The PostgreSQL server's WAL.
    pub wal: Option<u64>,
}

impl Growth {
    /// `after - before`, when both are known.
    pub fn between(before: Option<u64>, after: Option<u64>) -> Option<u64> {
        Some(after?.saturating_sub(before?))
    }
}

impl LogCost {
    /// The cost from this run's `sagas` and what the storage grew by.
    pub fn of(sagas: &[Saga], growth: Growth, ended: u64) -> Self {
        Self {
            sagas_read: sagas.len(),
            records_per_saga: mean_records(sagas.iter()),
            records_per_completed_saga: mean_records(
                sagas.iter().filter(|s| s.status() == SagaStatus::Completed),
            ),
            records_per_compensated_saga: mean_records(
                sagas
                    .iter()
                    .filter(|s| s.status() == SagaStatus::Compensated),
            ),
            db_growth_bytes_per_saga: growth.db.and_then(|bytes| per(bytes, ended)),
            wal_bytes_per_saga: growth.wal.and_then(|bytes| per(bytes, ended)),
        }
    }
}

/// Bytes of a SQLite database with its WAL, if the database file exists.
pub fn db_size(db: &Path) -> Option<u64> {
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).ok();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Some(size(db)? + size(&PathBuf::from(wal)).unwrap_or(0))
}

/// `amount / count`, when there is something to divide by.
pub fn per(amount: u64, count: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (count > 0).then(|| amount as f64 / count as f64)
}

fn mean_records<'a>(sagas: impl Iterator<Item = &'a Saga>) -> Option<f64> {
    let (count, records) = sagas.fold((0u64, 0u64), |(count, records), saga| {
        (count + 1, records + saga.log.len() as u64)
    });
    per(records, count)
}

#[cfg(test)]
mod tests {
    use saga_contracts::saga::v1::SagaLogEntry;

    use super::*;

    fn saga(status: SagaStatus, records: usize) -> Saga {
        Saga {
            status: status.into(),
            log: vec![SagaLogEntry::default(); records],
            ..Saga::default()
        }
    }

    #[test]
    fn records_are_averaged_overall_and_by_outcome() {
        let sagas = [
            saga(SagaStatus::Completed, 8),
            saga(SagaStatus::Completed, 10),
            saga(SagaStatus::Compensated, 12),
        ];
        assert_eq!(
            LogCost::of(
                &sagas,
                Growth {
                    db: Growth::between(Some(1_000), Some(4_000)),
                    wal: None,
                },
                3
            ),
            LogCost {
                sagas_read: 3,
                records_per_saga: Some(10.0),
                records_per_completed_saga: Some(9.0),
                records_per_compensated_saga: Some(12.0),
                db_growth_bytes_per_saga: Some(1_000.0),
                wal_bytes_per_saga: None,
            }
        );
    }

    #[test]
    fn the_wal_counts_with_the_database() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("o.db");
        assert_eq!(db_size(&db), None);
        std::fs::write(&db, [0u8; 100]).expect("db");
        assert_eq!(db_size(&db), Some(100));
        std::fs::write(dir.path().join("o.db-wal"), [0u8; 20]).expect("wal");
        assert_eq!(db_size(&db), Some(120));
    }
}
