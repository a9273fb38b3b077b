//! Calls read back from hand-made logs.

use saga_definitions::machine::{LogRecord, Operation, Outcome, SagaStatus};

use super::*;

fn entry(seq: u32, at_ms: i64, outcome: Outcome, attempt: u32, detail: &str) -> LogEntry {
    LogEntry {
        seq,
        record: LogRecord {
            step: "create_invoice".into(),
            operation: Some(Operation::Action),
            outcome,
            attempt,
            detail: detail.into(),
            status: SagaStatus::Running,
        },
        at_ms,
        writer: "r".into(),
        version: 1,
    }
}

fn outcomes(calls: &[pb::StepAttempt]) -> Vec<(u32, &str, &str, &str)> {
    calls
        .iter()
        .map(|c| {
            (
                c.attempt,
                c.outcome.as_str(),
                c.code.as_str(),
                c.error.as_str(),
            )
        })
        .collect()
}

#[test]
fn each_start_opens_a_call_that_the_next_record_closes() {
    let log = [
        entry(1, 10, Outcome::Started, 1, ""),
        entry(2, 20, Outcome::RetryScheduled, 1, "Unavailable: refused"),
        entry(3, 30, Outcome::Started, 2, ""),
        entry(
            4,
            40,
            Outcome::RetryScheduled,
            2,
            "parked: DeadlineExceeded: slow",
        ),
        entry(5, 50, Outcome::Started, 3, ""),
        entry(6, 60, Outcome::Started, 3, "resumed after restart"),
        entry(7, 70, Outcome::Succeeded, 3, ""),
    ];
    let records: Vec<_> = log.iter().map(|e| (e, Operation::Action)).collect();
    let calls = calls(&records, true);
    assert_eq!(
        outcomes(&calls),
        [
            (1, "retrying", "Unavailable", "Unavailable: refused"),
            (2, "parked", "DeadlineExceeded", "DeadlineExceeded: slow"),
            (3, "interrupted", "", ""),
            (3, "succeeded", "", ""),
        ]
    );
    assert_eq!(calls[0].started_at, Some(timestamp(10)));
    assert_eq!(calls[0].ended_at, Some(timestamp(20)));
}

#[test]
fn a_call_still_out_is_in_flight_unless_the_saga_ended() {
    let log = [
        entry(1, 10, Outcome::Started, 1, ""),
        entry(2, 20, Outcome::Failed, 1, "refused for good"),
        entry(3, 30, Outcome::Started, 1, ""),
    ];
    let records: Vec<_> = log.iter().map(|e| (e, Operation::Compensation)).collect();
    let running = calls(&records, false);
    assert_eq!(
        outcomes(&running),
        [
            (1, "failed", "", "refused for good"),
            (1, "in_flight", "", "")
        ]
    );
    assert_eq!(running[1].ended_at, None);
    assert_eq!(running[0].phase(), pb::StepPhase::Compensation);
    assert_eq!(calls(&records, true)[1].outcome, "interrupted");
}

#[test]
fn a_skip_is_an_entry_of_its_own_after_the_call_it_cut_off() {
    let log = [
        entry(1, 10, Outcome::Started, 1, ""),
        entry(2, 20, Outcome::RetryScheduled, 1, "Unavailable: down"),
        entry(3, 30, Outcome::Skipped, 1, "skipped by ann"),
    ];
    let records: Vec<_> = log.iter().map(|e| (e, Operation::Action)).collect();
    let waiting = calls(&records, true);
    assert_eq!(
        outcomes(&waiting),
        [
            (1, "retrying", "Unavailable", "Unavailable: down"),
            (1, "skipped", "", "")
        ]
    );
    assert_eq!(waiting[1].started_at, waiting[1].ended_at);
    let in_flight = [log[0].clone(), entry(2, 20, Outcome::Skipped, 1, "")];
    let records: Vec<_> = in_flight.iter().map(|e| (e, Operation::Action)).collect();
    assert_eq!(
        outcomes(&calls(&records, true)),
        [(1, "interrupted", "", ""), (1, "skipped", "", "")]
    );
}
