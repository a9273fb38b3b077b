//! Every operator action in every kind of state of the place-order saga: accepted (and
//! where the saga goes) or refused (and why), then the records of each accepted one.

use serde_json::json;

use super::*;
use crate::machine::tests::{NOW, ctx, line, ok, place_order, refused, run, transient};
use crate::machine::{Event, SagaStatus, transition};

/// The saga after `events`, by name.
fn saga_after(name: &str) -> SagaState {
    let order = || ok(json!({"order_id": "o"}));
    let events: Vec<Event> = match name {
        "running" => vec![],
        "waiting" => vec![transient()],
        "confirming" => vec![order(), ok(json!({"invoice_id": "i"}))],
        "compensating" => vec![order(), refused()],
        "compensating, waiting" => vec![order(), refused(), transient()],
        "completed" => vec![order(), ok(json!({"invoice_id": "i"})), ok(json!({}))],
        "compensated" => vec![order(), refused(), ok(json!({}))],
        "failed compensation" => vec![order(), refused(), refused()],
        "failed confirmation" | "resolved" => {
            vec![order(), ok(json!({"invoice_id": "i"})), refused()]
        }
        other => panic!("no state {other}"),
    };
    let events: Vec<(Event, i64)> = events.into_iter().map(|e| (e, NOW)).collect();
    let state = run(&place_order(), &events).1;
    match name {
        "resolved" => {
            let d = place_order();
            let resolve = Intervention {
                request_id: "r0".into(),
                ..request(Action::Resolve)
            };
            match intervene(&state, &resolve, &ctx(&d, NOW)) {
                Ok(Intervened::Apply(t)) => t.state,
                other => panic!("not resolved: {other:?}"),
            }
        }
        _ => state,
    }
}

fn request(action: Action) -> Intervention {
    Intervention {
        action,
        principal: "alice".into(),
        reason: "done by hand".into(),
        request_id: "r1".into(),
    }
}

fn act(state: &SagaState, action: Action) -> Result<Transition, Refused> {
    let d = place_order();
    match intervene(state, &request(action), &ctx(&d, NOW + 5))? {
        Intervened::Apply(t) => Ok(t),
        Intervened::AlreadyApplied => panic!("a new request id"),
    }
}

fn skip(step: &str) -> Action {
    Action::Skip {
        step: step.into(),
        output: json!({"order_id": "by-hand"}),
    }
}

/// `Ok(status)` the saga moves to, or `Err(part of the refusal)`.
type Expected = Result<SagaStatus, &'static str>;

#[test]
fn each_action_is_accepted_or_refused_as_the_state_says() {
    use SagaStatus::{Compensating, Completed, Resolved, Running};
    let in_flight = Err("in flight");
    let not_failed = Err("only a FAILED saga");
    let ended = Err("has ended");
    #[rustfmt::skip]
    let table: [(&str, &str, [Expected; 4]); 10] = [
        // state, its current step; retry, abort, resolve, skip the current step
        ("running", "create_order", [in_flight, Ok(Compensating), not_failed, Ok(Running)]),
        ("waiting", "create_order", [Ok(Running), Ok(Compensating), not_failed, Ok(Running)]),
        ("confirming", "confirm_order", [in_flight, Err("point of no return"), not_failed, Ok(Completed)]),
        ("compensating", "create_order", [in_flight, Err("already goes back"), not_failed, Err("compensation in progress")]),
        ("compensating, waiting", "create_order", [Ok(Compensating), Err("already goes back"), not_failed, Err("compensation in progress")]),
        ("completed", "confirm_order", [ended, ended, not_failed, ended]),
        ("compensated", "create_order", [ended, ended, not_failed, ended]),
        ("failed compensation", "create_order", [Ok(Compensating), ended, Ok(Resolved), Err("cannot be skipped")]),
        ("failed confirmation", "confirm_order", [Ok(Running), ended, Ok(Resolved), Ok(Completed)]),
        ("resolved", "confirm_order", [ended, ended, not_failed, ended]),
    ];
    for (name, current, expected) in table {
        let state = saga_after(name);
        let actions = [Action::Retry, Action::Abort, Action::Resolve, skip(current)];
        for (action, want) in actions.into_iter().zip(expected) {
            let what = format!("{} on a {name} saga", action.name());
            match (act(&state, action), want) {
                (Ok(t), Ok(status)) => {
                    assert_eq!(t.state.status(), status, "{what}");
                    assert_eq!(t.log[0].step, OPERATOR_STEP, "{what}");
                    assert!(t.log.iter().all(|r| r.status == status), "{what}");
                    assert_eq!(
                        t.state.requests.last().map(String::as_str),
                        Some("r1"),
                        "{what}"
                    );
                }
                (Err(Refused(why)), Err(part)) => assert!(why.contains(part), "{what}: {why}"),
                (got, want) => panic!("{what}: got {got:?}, wanted {want:?}"),
            }
        }
    }
}

#[test]
fn skipping_a_step_that_is_not_the_current_one_is_refused_naming_both() {
    let state = saga_after("waiting");
    let why = act(&state, skip("create_invoice")).expect_err("refused");
    assert_eq!(
        why.0,
        "RUNNING at create_order, not at create_invoice: only the current step can be skipped"
    );
    let why = act(&state, skip("nope")).expect_err("refused");
    assert_eq!(why.0, "the definition has no step nope");
}

#[test]
fn a_request_applied_before_changes_nothing() {
    let state = act(&saga_after("waiting"), Action::Retry)
        .expect("retries")
        .state;
    let d = place_order();
    let again = intervene(&state, &request(Action::Abort), &ctx(&d, NOW));
    assert_eq!(again, Ok(Intervened::AlreadyApplied));
}

fn lines(t: &Transition) -> Vec<(String, Outcome, u32, String)> {
    t.log
        .iter()
        .map(|r| (r.step.clone(), r.outcome, r.attempt, r.detail.clone()))
        .collect()
}

const BY_ALICE: &str = "by alice (request r1): done by hand";

#[test]
fn a_retry_sends_the_waiting_call_now_and_a_refused_one_again_from_its_first_attempt() {
    let t = act(&saga_after("waiting"), Action::Retry).expect("retries");
    assert_eq!(
        lines(&t),
        [
            line("operator", Outcome::Retried, 0, BY_ALICE),
            line("create_order", Outcome::Started, 2, ""),
        ]
    );
    let t = act(&saga_after("failed compensation"), Action::Retry).expect("retries");
    assert_eq!(
        lines(&t),
        [
            line("operator", Outcome::Retried, 0, BY_ALICE),
            line("cancel_order", Outcome::Started, 1, ""),
        ]
    );
    assert!(t.state.cause.is_some(), "still going back for its cause");
    let t = act(&saga_after("failed confirmation"), Action::Retry).expect("retries");
    assert_eq!(t.state.cause, None, "going forward again");
}

#[test]
fn an_abort_in_flight_compensates_the_step_it_cut_off() {
    let t = act(&saga_after("running"), Action::Abort).expect("aborts");
    assert_eq!(
        lines(&t),
        [
            line("operator", Outcome::Aborted, 0, BY_ALICE),
            line("create_order", Outcome::Failed, 1, "aborted by an operator"),
            line("cancel_order", Outcome::Started, 1, ""),
        ]
    );
    assert_eq!(
        t.state.cause.as_deref(),
        Some("aborted by alice: done by hand")
    );
    let d = place_order();
    let done = transition(&t.state, &ok(json!({})), &ctx(&d, NOW)).expect("cancelled");
    assert_eq!(done.state.status(), SagaStatus::Compensated);
}

#[test]
fn a_skip_records_the_given_output_and_goes_on() {
    let t = act(&saga_after("waiting"), skip("create_order")).expect("skips");
    assert_eq!(
        lines(&t),
        [
            line(
                "operator",
                Outcome::Skipped,
                0,
                &format!("create_order, {BY_ALICE}")
            ),
            line("create_order", Outcome::Skipped, 1, "skipped by alice"),
            line("create_invoice", Outcome::Started, 1, ""),
        ]
    );
    assert_eq!(
        t.state.effects[0].output(),
        Some(&json!({"order_id": "by-hand"}))
    );
}

#[test]
fn a_resolved_saga_ends_keeping_its_cause() {
    let failed = saga_after("failed confirmation");
    let t = act(&failed, Action::Resolve).expect("resolves");
    assert_eq!(
        lines(&t),
        [line("operator", Outcome::Resolved, 0, BY_ALICE)]
    );
    assert_eq!(t.state.position, Position::Resolved);
    assert_eq!(t.state.cause, failed.cause);
    assert_eq!(t.command, None);
}

#[test]
fn a_failed_state_stored_before_the_refused_call_was_kept_still_reads() {
    let stored = r#"{"position":{"position":"failed"},"effects":[{"effect":"none"}],"cause":"x"}"#;
    let state: SagaState = serde_json::from_str(stored).expect("reads");
    assert_eq!(state.position, Position::Failed { refused: None });
    let why = act(&state, Action::Retry).expect_err("refused");
    assert!(why.0.contains("resolve the saga"), "{why}");
}
