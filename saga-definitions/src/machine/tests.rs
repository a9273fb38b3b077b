//! Table tests of the machine over the built-in place-order definition: the same
//! decisions and log as the order saga has always made.

use prost_reflect::DescriptorPool;
use serde_json::json;

use super::*;
use crate::model::Definition;

const PLACE_ORDER: &str = include_str!("../../../definitions/place-order.json");
const POLICY: Policy = Policy {
    max_attempts: 3,
    step_time_limit_ms: 10_000,
    saga_timeout_ms: Some(60_000),
    park_after_attempts: 10,
    backoff: Backoff {
        base_ms: 100,
        max_ms: 1_000,
        parked_ms: 60_000,
    },
};
pub(super) const NOW: i64 = 1_000;

pub(super) fn place_order() -> Definition {
    let pool = DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET).expect("contracts");
    let proto = crate::file::from_json(PLACE_ORDER).expect("reads");
    crate::check(&proto, &pool).expect("checks").definition
}

pub(super) fn ctx(definition: &Definition, now_ms: i64) -> Context<'_> {
    Context {
        now_ms,
        saga_started_ms: 0,
        policy: &POLICY,
        definition,
        jitter: 0.5,
    }
}

pub(super) fn ok(output: serde_json::Value) -> Event {
    Event::Succeeded { output }
}

pub(super) fn transient() -> Event {
    Event::CallFailed {
        failure: Failure::Transient,
        detail: "UNAVAILABLE: down".into(),
    }
}

pub(super) fn refused() -> Event {
    Event::CallFailed {
        failure: Failure::Permanent,
        detail: "FAILED_PRECONDITION: no".into(),
    }
}

/// Runs `events` from a new saga; the log as (step, outcome, attempt, detail) and the
/// end state.
pub(super) fn run(
    definition: &Definition,
    events: &[(Event, i64)],
) -> (Vec<(String, Outcome, u32, String)>, SagaState) {
    let first = start(&ctx(definition, NOW));
    let mut log = first.log;
    let mut state = first.state;
    for (event, at) in events {
        let next = transition(&state, event, &ctx(definition, *at))
            .unwrap_or_else(|e| panic!("{e} after {log:?}"));
        log.extend(next.log);
        state = next.state;
    }
    let log = log
        .into_iter()
        .map(|r| (r.step, r.outcome, r.attempt, r.detail))
        .collect();
    (log, state)
}

pub(super) fn line(
    step: &str,
    outcome: Outcome,
    attempt: u32,
    detail: &str,
) -> (String, Outcome, u32, String) {
    (step.to_string(), outcome, attempt, detail.to_string())
}

use Outcome::{Failed as F, RetryScheduled as R, Started as S, Succeeded as OK};

#[test]
fn the_happy_path_runs_every_step_and_completes_with_their_outputs() {
    let d = place_order();
    let events = [
        (ok(json!({"order_id": "o"})), NOW),
        (ok(json!({"invoice_id": "i"})), NOW),
        (ok(json!({})), NOW),
    ];
    let (log, state) = run(&d, &events);
    assert_eq!(
        log,
        [
            line("saga", S, 0, "saga accepted"),
            line("create_order", S, 1, ""),
            line("create_order", OK, 1, ""),
            line("create_invoice", S, 1, ""),
            line("create_invoice", OK, 1, ""),
            line("confirm_order", S, 1, ""),
            line("confirm_order", OK, 1, ""),
            line("saga", OK, 0, "saga completed"),
        ]
    );
    assert_eq!(state.status(), SagaStatus::Completed);
    assert_eq!(state.effects[0], Effect::Done(json!({"order_id": "o"})));
}

#[test]
fn a_refused_invoice_skips_the_void_and_cancels_the_order() {
    let d = place_order();
    let events = [
        (ok(json!({"order_id": "o"})), NOW),
        (refused(), NOW),
        (ok(json!({})), NOW),
    ];
    let (log, state) = run(&d, &events);
    let cause = "create_invoice refused: FAILED_PRECONDITION: no";
    assert_eq!(
        log[4..],
        [
            line("create_invoice", F, 1, "FAILED_PRECONDITION: no"),
            line("cancel_order", S, 1, ""),
            line("cancel_order", OK, 1, ""),
            line("saga", F, 0, &format!("saga compensated: {cause}")),
        ]
    );
    assert_eq!(
        (state.status(), state.cause.as_deref()),
        (SagaStatus::Compensated, Some(cause))
    );
}

#[test]
fn a_refused_invoice_after_an_ambiguous_attempt_voids_it_first() {
    let d = place_order();
    let events = [
        (ok(json!({"order_id": "o"})), NOW),
        (transient(), NOW),
        (Event::RetryDue, NOW),
        (refused(), NOW),
        (ok(json!({})), NOW),
        (ok(json!({})), NOW),
    ];
    let (log, state) = run(&d, &events);
    assert_eq!(
        log[4..],
        [
            line("create_invoice", R, 1, "UNAVAILABLE: down"),
            line("create_invoice", S, 2, ""),
            line("create_invoice", F, 2, "FAILED_PRECONDITION: no"),
            line("void_invoice", S, 1, ""),
            line("void_invoice", OK, 1, ""),
            line("cancel_order", S, 1, ""),
            line("cancel_order", OK, 1, ""),
            line(
                "saga",
                F,
                0,
                "saga compensated: create_invoice refused: FAILED_PRECONDITION: no"
            ),
        ]
    );
    assert!(matches!(state.effects[1], Effect::Undone(_)));
}

#[test]
fn an_action_out_of_attempts_or_time_gives_up_and_compensates() {
    let d = place_order();
    let mut events = vec![(ok(json!({"order_id": "o"})), NOW)];
    for _ in 0..2 {
        events.extend([(transient(), NOW), (Event::RetryDue, NOW)]);
    }
    events.push((transient(), NOW));
    let (log, state) = run(&d, &events);
    assert!(
        log.contains(&line("create_invoice", F, 3, "UNAVAILABLE: down")),
        "{log:?}"
    );
    assert_eq!(log.last(), Some(&line("void_invoice", S, 1, "")));
    assert_eq!(
        state.cause.as_deref(),
        Some("create_invoice gave up after 3 attempts: UNAVAILABLE: down")
    );
    let late = [
        (ok(json!({"order_id": "o"})), NOW),
        (transient(), NOW + 10_000),
    ];
    let (_, state) = run(&d, &late);
    assert_eq!(
        state.status(),
        SagaStatus::Compensating,
        "past its time limit"
    );
}

#[test]
fn a_refused_order_ends_compensated_with_nothing_to_undo() {
    let d = place_order();
    let (log, state) = run(&d, &[(refused(), NOW)]);
    assert_eq!(
        log.last(),
        Some(&line(
            "saga",
            F,
            0,
            "create_order refused: FAILED_PRECONDITION: no"
        ))
    );
    assert_eq!(state.status(), SagaStatus::Compensated);
}

#[test]
fn the_confirmation_and_compensations_never_give_up_and_park_when_stuck() {
    let d = place_order();
    let mut events = vec![
        (ok(json!({"order_id": "o"})), NOW),
        (ok(json!({"invoice_id": "i"})), NOW),
    ];
    for _ in 0..11 {
        events.extend([(transient(), 90_000), (Event::RetryDue, 90_000)]);
    }
    let (log, state) = run(&d, &events);
    assert_eq!(
        state.status(),
        SagaStatus::Running,
        "past its deadline and limits"
    );
    assert!(
        log.contains(&line("confirm_order", R, 10, "parked: UNAVAILABLE: down")),
        "{log:?}"
    );
    assert!(
        log.contains(&line("confirm_order", R, 9, "UNAVAILABLE: down")),
        "{log:?}"
    );
}

#[test]
fn a_retry_is_due_after_its_backoff_and_a_parked_one_at_the_slow_pace() {
    let d = place_order();
    let due = |events: &[(Event, i64)], now: i64| {
        let (_, state) = run(&d, events);
        let failed = transition(&state, &transient(), &ctx(&d, now)).expect("legal");
        let until = match failed.command {
            Some(Command::Wait { until_ms, .. }) => until_ms,
            other => panic!("{other:?}"),
        };
        let kept = failed.state.pending().and_then(|(_, _, p)| p.retry_at_ms);
        assert_eq!(kept, Some(until), "the state keeps the time of the retry");
        until - now
    };
    // Attempt 1: half of 100 ms plus half of the other half (jitter 0.5).
    assert_eq!(due(&[], NOW), 75);
    // Attempt 2: the ceiling is 200 ms.
    let once = [(transient(), NOW), (Event::RetryDue, NOW)];
    assert_eq!(due(&once, NOW), 150);
    // The confirmation's 10th attempt is parked: 60 s, jittered alike.
    let mut parked = vec![
        (ok(json!({"order_id": "o"})), NOW),
        (ok(json!({"invoice_id": "i"})), NOW),
    ];
    for _ in 0..9 {
        parked.extend([(transient(), NOW), (Event::RetryDue, NOW)]);
    }
    assert_eq!(due(&parked, NOW), 45_000);
    let (_, resumed) = run(&d, &[(transient(), NOW), (Event::RetryDue, NOW)]);
    let sent = resumed.pending().map(|(_, _, p)| p.retry_at_ms);
    assert_eq!(sent, Some(None), "a call out has no retry time");
}

#[test]
fn past_its_deadline_a_saga_compensates_until_its_last_compensatable_step_succeeded() {
    let d = place_order();
    let (log, state) = run(&d, &[(ok(json!({"order_id": "o"})), 60_000)]);
    assert_eq!(log.last(), Some(&line("cancel_order", S, 1, "")));
    assert_eq!(state.cause.as_deref(), Some(DEADLINE_PASSED));
    let events = [
        (ok(json!({"order_id": "o"})), NOW),
        (ok(json!({"invoice_id": "i"})), 60_000),
    ];
    let (log, _) = run(&d, &events);
    assert_eq!(log.last(), Some(&line("void_invoice", S, 1, "")));
    let events = [
        (ok(json!({"order_id": "o"})), NOW),
        (ok(json!({"invoice_id": "i"})), NOW),
        (ok(json!({})), 90_000),
    ];
    assert_eq!(
        run(&d, &events).1.status(),
        SagaStatus::Completed,
        "confirming: forward"
    );
    let waiting = [
        (ok(json!({"order_id": "o"})), NOW),
        (transient(), NOW),
        (Event::RetryDue, 60_000),
    ];
    let (log, _) = run(&d, &waiting);
    assert!(
        log.contains(&line("create_invoice", F, 1, DEADLINE_PASSED)),
        "{log:?}"
    );
}

#[test]
fn a_refused_compensation_or_confirmation_fails_the_saga() {
    let d = place_order();
    let (log, state) = run(
        &d,
        &[
            (ok(json!({"order_id": "o"})), NOW),
            (refused(), NOW),
            (refused(), NOW),
        ],
    );
    assert_eq!(state.status(), SagaStatus::Failed);
    assert_eq!(
        log.last(),
        Some(&line(
            "saga",
            F,
            0,
            "cancel_order refused: FAILED_PRECONDITION: no"
        ))
    );
    let events = [
        (ok(json!({"order_id": "o"})), NOW),
        (ok(json!({"invoice_id": "i"})), NOW),
        (refused(), NOW),
    ];
    assert_eq!(run(&d, &events).1.status(), SagaStatus::Failed);
}

#[test]
fn a_restart_reissues_the_call_as_a_new_attempt_that_may_have_applied() {
    let d = place_order();
    let (log, state) = run(
        &d,
        &[
            (Event::Resumed, NOW),
            (refused(), NOW),
            (ok(json!({})), NOW),
        ],
    );
    assert_eq!(log[2], line("create_order", S, 2, RESUMED));
    assert_eq!(
        log[4],
        line("cancel_order", S, 1, ""),
        "the cut-off create may have applied"
    );
    assert_eq!(state.effects[0], Effect::Undone(None));
}

#[test]
fn a_restart_leaves_a_waiting_call_waiting_until_its_time() {
    let d = place_order();
    let c = ctx(&d, NOW);
    let waiting = transition(&start(&c).state, &transient(), &c).expect("legal");
    let later = ctx(&d, NOW + 10);
    let resumed = transition(&waiting.state, &Event::Resumed, &later).expect("legal");
    assert_eq!(resumed.state, waiting.state, "nothing changes");
    assert!(resumed.log.is_empty(), "nothing to write");
    assert_eq!(resumed.command, waiting.command, "the same wait");
    // A wait stored before its time was kept is over at once: the call is sent.
    let mut untimed = waiting.state.clone();
    if let Position::Forward { progress, .. } = &mut untimed.position {
        progress.retry_at_ms = None;
    }
    let sent = transition(&untimed, &Event::Resumed, &later).expect("legal");
    assert!(
        matches!(sent.command, Some(Command::Send { attempt: 2, .. })),
        "{sent:?}"
    );
}

#[test]
fn events_that_cannot_happen_are_refused() {
    let d = place_order();
    let c = ctx(&d, NOW);
    let new = start(&c).state;
    assert!(
        transition(&new, &Event::RetryDue, &c).is_err(),
        "no retry is pending"
    );
    let waiting = transition(&new, &transient(), &c).expect("legal").state;
    assert!(
        transition(&waiting, &ok(json!({})), &c).is_err(),
        "no call is out"
    );
    assert!(
        transition(&waiting, &transient(), &c).is_err(),
        "no call is out"
    );
    let done = run(&d, &[(refused(), NOW)]).1;
    for event in [ok(json!({})), transient(), Event::RetryDue, Event::Resumed] {
        assert!(
            transition(&done, &event, &c).is_err(),
            "{event:?} after the end"
        );
    }
}
