//! The log checker accepts every shape the saga can legally take and names each kind of
//! malformed log.

use saga_contracts::saga::v1::{Saga, SagaLogEntry, SagaStatus, StepOutcome, StepPhase};

use super::super::shape::SagaShape;
use super::{RESUMED, SAGA, log_violations};

use StepOutcome::{Claimed as C, Failed as F, RetryScheduled as R, Started as S, Succeeded as OK};

type Rec = (&'static str, StepOutcome, u32, &'static str);

/// A saga whose log holds `records` in order; every record but the last says RUNNING.
/// Each record is its own write by replica "r1", or by the replica a CLAIMED record's
/// detail names from there on (written out as the orchestrator words a claim).
fn saga(status: SagaStatus, records: &[Rec]) -> Saga {
    let last = records.len();
    let mut owner = "r1";
    let log = records
        .iter()
        .enumerate()
        .map(|(i, (step, outcome, attempt, detail))| {
            let mut detail = (*detail).to_string();
            if *outcome == StepOutcome::Claimed {
                detail =
                    format!("claimed by {detail} from {owner}: lease over 10 ms, heartbeat none");
                owner = records[i].3;
            }
            let phase = match *step {
                SAGA => StepPhase::Unspecified,
                s if SagaShape::place_order().action_index(s).is_some() => StepPhase::Action,
                _ => StepPhase::Compensation,
            };
            SagaLogEntry {
                seq: u32::try_from(i + 1).unwrap_or(0),
                step: (*step).into(),
                phase: phase.into(),
                outcome: (*outcome).into(),
                attempt: *attempt,
                detail,
                status: if i + 1 == last {
                    status.into()
                } else {
                    SagaStatus::Running.into()
                },
                writer: owner.into(),
                version: u64::try_from(i + 1).unwrap_or(0),
                ..Default::default()
            }
        })
        .collect();
    Saga {
        saga_id: "s1".into(),
        status: status.into(),
        definition: "place-order".into(),
        definition_version: 1,
        log,
        ..Default::default()
    }
}

const ACCEPTED: Rec = (SAGA, S, 0, "saga accepted");

fn completed() -> Vec<Rec> {
    vec![
        ACCEPTED,
        ("create_order", S, 1, ""),
        ("create_order", OK, 1, ""),
        ("create_invoice", S, 1, ""),
        ("create_invoice", OK, 1, ""),
        ("confirm_order", S, 1, ""),
        ("confirm_order", OK, 1, ""),
        (SAGA, OK, 0, "saga completed"),
    ]
}

#[test]
fn every_legal_shape_is_well_formed() {
    let cases: Vec<(&str, SagaStatus, Vec<Rec>)> = vec![
        ("completed", SagaStatus::Completed, completed()),
        (
            "retried and resumed",
            SagaStatus::Completed,
            vec![
                ACCEPTED,
                ("create_order", S, 1, ""),
                ("create_order", R, 1, "Unavailable: x"),
                (SAGA, C, 0, "r1"),
                ("create_order", S, 2, RESUMED),
                (SAGA, C, 0, "r2"),
                ("create_order", S, 3, RESUMED),
                ("create_order", OK, 3, ""),
                ("create_invoice", S, 1, ""),
                ("create_invoice", OK, 1, ""),
                ("confirm_order", S, 1, ""),
                ("confirm_order", R, 1, "parked: Unavailable: x"),
                ("confirm_order", S, 2, ""),
                ("confirm_order", OK, 2, ""),
                (SAGA, OK, 0, "saga completed"),
            ],
        ),
        (
            "over the limit",
            SagaStatus::Compensated,
            vec![
                ACCEPTED,
                ("create_order", S, 1, ""),
                ("create_order", OK, 1, ""),
                ("create_invoice", S, 1, ""),
                ("create_invoice", F, 1, "FailedPrecondition: over"),
                ("cancel_order", S, 1, ""),
                ("cancel_order", OK, 1, ""),
                (SAGA, F, 0, "saga compensated"),
            ],
        ),
        (
            "invoice may have been issued",
            SagaStatus::Compensated,
            vec![
                ACCEPTED,
                ("create_order", S, 1, ""),
                ("create_order", OK, 1, ""),
                ("create_invoice", S, 1, ""),
                ("create_invoice", R, 1, "Unavailable: x"),
                ("create_invoice", F, 1, "saga deadline passed"),
                ("void_invoice", S, 1, ""),
                ("void_invoice", OK, 1, ""),
                ("cancel_order", S, 1, ""),
                ("cancel_order", OK, 1, ""),
                (SAGA, F, 0, "saga compensated"),
            ],
        ),
        (
            "order refused",
            SagaStatus::Compensated,
            vec![
                ACCEPTED,
                ("create_order", S, 1, ""),
                ("create_order", F, 1, "FailedPrecondition: x"),
                (SAGA, F, 0, "saga compensated"),
            ],
        ),
        (
            "still running",
            SagaStatus::Running,
            vec![ACCEPTED, ("create_order", S, 1, "")],
        ),
    ];
    for (name, status, records) in cases {
        assert_eq!(
            log_violations(&saga(status, &records), &SagaShape::place_order()),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[test]
fn every_kind_of_malformed_log_is_reported() {
    type Breakage = fn(&mut Vec<Rec>);
    let cases: Vec<(&str, SagaStatus, Breakage, &str)> = vec![
        (
            "a started attempt without an outcome",
            SagaStatus::Completed,
            |r| r.insert(2, ("create_order", S, 2, "")),
            "without its outcome or a recorded recovery",
        ),
        (
            "attempts skip a number",
            SagaStatus::Completed,
            |r| r[4] = ("create_invoice", OK, 2, ""),
            "should be attempt 1",
        ),
        (
            "an ended saga with a call in flight",
            SagaStatus::Completed,
            |r| {
                r.remove(6);
            },
            "confirm_order attempt 1 has no outcome",
        ),
        (
            "an outcome without a start",
            SagaStatus::Completed,
            |r| {
                r.remove(3);
            },
            "has no STARTED attempt before it",
        ),
        (
            "a step after its end",
            SagaStatus::Completed,
            |r| r.insert(7, ("confirm_order", S, 2, "")),
            "follows the step's end",
        ),
        (
            "steps out of order",
            SagaStatus::Completed,
            |r| r.swap(3, 5),
            "order",
        ),
        (
            "compensations in the wrong order",
            SagaStatus::Compensated,
            |r| {
                *r = vec![
                    ACCEPTED,
                    ("create_order", S, 1, ""),
                    ("create_order", OK, 1, ""),
                    ("create_invoice", S, 1, ""),
                    ("create_invoice", F, 1, "x"),
                    ("cancel_order", S, 1, ""),
                    ("cancel_order", OK, 1, ""),
                    ("void_invoice", S, 1, ""),
                    ("void_invoice", OK, 1, ""),
                    (SAGA, F, 0, "saga compensated"),
                ]
            },
            "runs its steps in the order",
        ),
        (
            "a compensation of an action never started",
            SagaStatus::Compensated,
            |r| {
                *r = vec![
                    ACCEPTED,
                    ("create_order", S, 1, ""),
                    ("create_order", R, 1, "x"),
                    ("create_order", S, 2, ""),
                    ("create_order", F, 2, "x"),
                    ("void_invoice", S, 1, ""),
                    ("void_invoice", OK, 1, ""),
                    ("cancel_order", S, 1, ""),
                    ("cancel_order", OK, 1, ""),
                    (SAGA, F, 0, "saga compensated"),
                ]
            },
            "void_invoice although create_invoice never started",
        ),
        (
            "a compensation owed but skipped",
            SagaStatus::Compensated,
            |r| {
                *r = vec![
                    ACCEPTED,
                    ("create_order", S, 1, ""),
                    ("create_order", OK, 1, ""),
                    ("create_invoice", S, 1, ""),
                    ("create_invoice", R, 1, "Unavailable: x"),
                    ("create_invoice", S, 2, ""),
                    ("create_invoice", F, 2, "x"),
                    ("cancel_order", S, 1, ""),
                    ("cancel_order", OK, 1, ""),
                    (SAGA, F, 0, "saga compensated"),
                ]
            },
            "may have applied create_invoice but did not void_invoice",
        ),
        (
            "a compensation after the confirmation",
            SagaStatus::Compensated,
            |r| {
                r.truncate(7);
                r.extend([
                    ("void_invoice", S, 1, ""),
                    ("void_invoice", OK, 1, ""),
                    ("cancel_order", S, 1, ""),
                    ("cancel_order", OK, 1, ""),
                    (SAGA, F, 0, "saga compensated"),
                ]);
            },
            "compensated after starting confirm_order",
        ),
        (
            "a completed saga without its confirmation",
            SagaStatus::Completed,
            |r| {
                r.truncate(5);
                r.push((SAGA, OK, 0, "saga completed"));
            },
            "did not run exactly its 3 actions",
        ),
        (
            "no saga outcome at the end",
            SagaStatus::Completed,
            |r| {
                r.pop();
            },
            "saga records",
        ),
        (
            "interleaved steps",
            SagaStatus::Completed,
            |r| r.insert(5, ("create_order", S, 2, RESUMED)),
            "resumes after another step ran",
        ),
    ];
    for (name, status, breakage, expected) in cases {
        let mut records = completed();
        breakage(&mut records);
        let found = log_violations(&saga(status, &records), &SagaShape::place_order());
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{name}: expected a finding containing {expected:?}, got {found:?}"
        );
    }
}

#[test]
fn a_gap_in_the_sequence_is_reported() {
    let mut gapped = saga(SagaStatus::Completed, &completed());
    gapped.log[3].seq = 30;
    let found = log_violations(&gapped, &SagaShape::place_order());
    assert!(found.iter().any(|f| f.contains("log seqs")), "{found:?}");
}
