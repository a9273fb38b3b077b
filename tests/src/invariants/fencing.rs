//! One writer at a time, as a saga's log shows it. Every record names the replica whose
//! write appended it and the saga version that write produced (its fencing token plus
//! one). Every write and every claim raises the version by exactly one and appends at
//! least one record, and only a claim (a CLAIMED record) changes the owner. So along
//! `seq` the versions go up one step at a time, the records of one version have one
//! writer, and every record but a CLAIMED one is written by the saga's owner: the replica
//! of the saga's first record or of its latest CLAIMED record. A write accepted with a
//! stale token shows as a version that repeats or goes back, or a writer that is not the
//! owner; a write or claim that left no record shows as a skipped version. The stamps
//! never go back either (each write is stamped when its writer decided it, and a claim
//! comes only after the previous owner's lease ran out).

use saga_contracts::saga::v1::{Saga, SagaLogEntry, StepOutcome};

/// Every record of `saga` written without holding the saga, as sentences.
pub fn ownership_violations(saga: &Saga) -> Vec<String> {
    let mut log: Vec<&SagaLogEntry> = saga.log.iter().collect();
    log.sort_by_key(|e| e.seq);
    let Some(first) = log.first() else {
        return Vec::new();
    };
    let id = &saga.saga_id;
    let mut found = Vec::new();
    if first.version != 1 || first.writer.is_empty() {
        found.push(format!(
            "saga {id} record 1 is stamped {:?}@v{}, not its inserter's version 1",
            first.writer, first.version
        ));
    }
    let mut owner = first.writer.as_str();
    for pair in log.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        let claimed = after.outcome() == StepOutcome::Claimed;
        let follows_claim = before.outcome() == StepOutcome::Claimed;
        let why = match after.version.checked_sub(before.version) {
            Some(0) if claimed || follows_claim => Some("shares its version with a claim"),
            Some(0) if after.writer != before.writer => {
                Some("shares its version with a record of another writer")
            }
            Some(0) | Some(1) => None,
            Some(_) => Some("skips a version: a write or claim left no record"),
            None => Some(
                "goes back to an older version: a write with a stale fencing token was accepted",
            ),
        };
        if claimed {
            owner = after.writer.as_str();
        } else if why.is_none() && after.writer != owner {
            found.push(format!(
                "saga {id} record {} ({} {}) was written by {} while {owner} held the saga: \
                 a write with a stale fencing token was accepted",
                after.seq,
                after.step,
                after.outcome().as_str_name(),
                after.writer
            ));
        }
        if let Some(why) = why {
            found.push(format!(
                "saga {id} record {} ({}@v{}) after record {} ({}@v{}) {why}",
                after.seq, after.writer, after.version, before.seq, before.writer, before.version
            ));
        }
    }
    found
}

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

    /// One record: its outcome, writer and version.
    type Owned<'a> = (StepOutcome, &'a str, u64);

    /// A log of `records`, one per write unless versions repeat.
    fn owned(records: &[Owned]) -> Saga {
        let log = (1..)
            .zip(records)
            .map(|(seq, (outcome, writer, version))| SagaLogEntry {
                seq,
                outcome: (*outcome).into(),
                writer: (*writer).into(),
                version: *version,
                ..Default::default()
            })
            .collect();
        Saga {
            saga_id: "s".into(),
            log,
            ..Default::default()
        }
    }

    use StepOutcome::{Claimed as C, Started as S, Succeeded as OK};

    #[test]
    fn writes_by_the_owner_and_claims_that_hand_the_saga_over_are_one_writer_at_a_time() {
        let log = owned(&[
            (S, "a", 1),
            (S, "a", 1),
            (OK, "a", 2),
            (C, "b", 3),
            (S, "b", 4),
            (C, "a", 5),
            (OK, "a", 6),
            (S, "a", 6),
        ]);
        assert_eq!(ownership_violations(&log), Vec::<String>::new());
    }

    #[test]
    fn every_way_a_stale_or_unrecorded_write_shows_is_reported() {
        let cases: [(&str, &[Owned], &str); 6] = [
            (
                "not inserted at 1",
                &[(S, "a", 2)],
                "not its inserter's version 1",
            ),
            (
                "old owner after a claim",
                &[(S, "a", 1), (C, "b", 2), (OK, "a", 3)],
                "while b held the saga",
            ),
            (
                "version goes back",
                &[(S, "a", 1), (OK, "a", 2), (S, "a", 1)],
                "goes back to an older version",
            ),
            (
                "version skipped",
                &[(S, "a", 1), (OK, "a", 3)],
                "skips a version",
            ),
            (
                "two writers, one version",
                &[(S, "a", 1), (S, "b", 1)],
                "another writer",
            ),
            (
                "a claim inside a write",
                &[(S, "a", 1), (C, "b", 1)],
                "shares its version with a claim",
            ),
        ];
        for (name, records, expected) in cases {
            let found = ownership_violations(&owned(records));
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert!(found[0].contains(expected), "{name}: {found:?}");
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
