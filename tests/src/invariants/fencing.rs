//! One writer at a time, as a saga's log shows it. A replica claims a saga only after the
//! previous owner's lease has passed, and every transition is stamped with the time its
//! writer decided it, so along `seq` the stamps never go back. A write accepted from a
//! replica that had lost the saga (a stale fencing token) would land after the new
//! owner's records with an older stamp; one that repeats or skips an attempt is caught by
//! the replay in `log`, and a doubled or missing `seq` by its gapless check.

use saga_contracts::saga::v1::{Saga, SagaLogEntry};

/// Every record of `saga` stamped earlier than the record before it, as sentences.
pub fn stale_write_violations(saga: &Saga) -> Vec<String> {
    let mut log: Vec<&SagaLogEntry> = saga.log.iter().collect();
    log.sort_by_key(|e| e.seq);
    log.windows(2)
        .filter_map(|pair| {
            let (before, after) = (pair[0], pair[1]);
            let (t0, t1) = (millis(before), millis(after));
            (t1 < t0).then(|| {
                format!(
                    "saga {} record {} ({} {}) is stamped {} ms before record {}: a write from \
                     a replica that had lost the saga (stale fencing token) was accepted",
                    saga.saga_id,
                    after.seq,
                    after.step,
                    after.outcome().as_str_name(),
                    t0 - t1,
                    before.seq
                )
            })
        })
        .collect()
}

fn millis(entry: &SagaLogEntry) -> i64 {
    entry
        .at
        .as_ref()
        .map_or(0, |t| t.seconds * 1_000 + i64::from(t.nanos / 1_000_000))
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;
    use saga_contracts::saga::v1::StepOutcome;

    use super::*;

    fn record(seq: u32, at_ms: i64) -> SagaLogEntry {
        SagaLogEntry {
            seq,
            step: "create_order".into(),
            outcome: StepOutcome::Started.into(),
            at: Some(Timestamp {
                seconds: at_ms / 1_000,
                nanos: i32::try_from(at_ms % 1_000 * 1_000_000).unwrap_or(0),
            }),
            ..Default::default()
        }
    }

    fn saga(stamps: &[i64]) -> Saga {
        let mut log: Vec<SagaLogEntry> = (1..)
            .zip(stamps)
            .map(|(seq, at)| record(seq, *at))
            .collect();
        // Out of order: the check must not rely on the order records arrive in.
        log.reverse();
        Saga {
            saga_id: "s".into(),
            log,
            ..Default::default()
        }
    }

    #[test]
    fn stamps_that_never_go_back_are_one_writer_at_a_time() {
        assert_eq!(
            stale_write_violations(&saga(&[1_000, 1_000, 2_500, 9_000])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_older_stamp_after_a_newer_one_is_a_stale_write() {
        let found = stale_write_violations(&saga(&[1_000, 5_000, 2_000, 6_000]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("record 3"), "{found:?}");
        assert!(found[0].contains("3000 ms before record 2"), "{found:?}");
    }
}
