//! The generic machine (`saga_definitions::machine`) running the built-in place-order
//! definition decides exactly as this hand-written order saga does: over thousands of
//! generated runs (each call succeeding, failing transiently or for good, restarts,
//! deadlines), both write the same log records with the same statuses and end alike.
//! It is what lets the engine move to the generic machine without changing behaviour.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use saga_definitions::machine as generic;
use serde_json::json;

use super::*;

const RUNS: u64 = 2_000;

fn place_order() -> saga_definitions::Definition {
    let pool = prost_reflect::DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET)
        .expect("contracts");
    let text = include_str!("../../../definitions/place-order.json");
    let proto = saga_definitions::file::from_json(text).expect("reads");
    saga_definitions::check(&proto, &pool)
        .expect("checks")
        .definition
}

/// One record as both write it: step, outcome, attempt, detail, status.
type Line = (String, String, u32, String, String);

fn line(r: &LogRecord) -> Line {
    (
        r.step.as_str().to_string(),
        r.outcome.as_str().to_string(),
        r.attempt,
        r.detail.clone(),
        r.status.as_str().to_string(),
    )
}

fn generic_line(r: &generic::LogRecord) -> Line {
    let outcome = match r.outcome {
        generic::Outcome::Started => "STARTED",
        generic::Outcome::Succeeded => "SUCCEEDED",
        generic::Outcome::Failed => "FAILED",
        generic::Outcome::RetryScheduled => "RETRY_SCHEDULED",
    };
    let status = match r.status {
        generic::SagaStatus::Running => "RUNNING",
        generic::SagaStatus::Compensating => "COMPENSATING",
        generic::SagaStatus::Completed => "COMPLETED",
        generic::SagaStatus::Compensated => "COMPENSATED",
        generic::SagaStatus::Failed => "FAILED",
    };
    (
        r.step.clone(),
        outcome.into(),
        r.attempt,
        r.detail.clone(),
        status.into(),
    )
}

/// What the participant answered, in both machines' words.
enum Answer {
    Ok,
    Transient,
    Refused,
}

fn old_event(state: &SagaState, answer: &Answer) -> Event {
    let failed = |failure, detail: &str| Event::CallFailed {
        failure,
        detail: detail.into(),
    };
    match answer {
        Answer::Transient => failed(Failure::Transient, "UNAVAILABLE: down"),
        Answer::Refused => failed(Failure::Permanent, "FAILED_PRECONDITION: no"),
        Answer::Ok => match state.pending().map(|(call, _)| call) {
            Some(Call::CreateOrder) => Event::OrderCreated {
                order_id: "o".into(),
            },
            Some(Call::CreateInvoice { .. }) => Event::InvoiceIssued {
                invoice_id: "i".into(),
            },
            Some(Call::ConfirmOrder { .. }) => Event::OrderConfirmed,
            Some(Call::VoidInvoice { .. }) => Event::InvoiceVoided,
            Some(Call::CancelOrder { .. }) | None => Event::OrderCancelled,
        },
    }
}

fn generic_event(answer: &Answer) -> generic::Event {
    let failed = |failure, detail: &str| generic::Event::CallFailed {
        failure,
        detail: detail.into(),
    };
    match answer {
        Answer::Transient => failed(generic::Failure::Transient, "UNAVAILABLE: down"),
        Answer::Refused => failed(generic::Failure::Permanent, "FAILED_PRECONDITION: no"),
        Answer::Ok => generic::Event::Succeeded {
            output: json!({"order_id": "o", "invoice_id": "i"}),
        },
    }
}

#[test]
fn the_generic_machine_on_place_order_decides_as_the_order_saga_does() {
    let definition = place_order();
    for seed in 0..RUNS {
        let mut rng = StdRng::seed_from_u64(seed);
        let policy = Policy {
            max_attempts: rng.random_range(1..=4),
            step_time_limit_ms: rng.random_range(5..200),
            saga_timeout_ms: rng.random_bool(0.3).then(|| rng.random_range(0..100)),
            park_after_attempts: rng.random_range(2..6),
        };
        let generic_policy = generic::Policy {
            max_attempts: policy.max_attempts,
            step_time_limit_ms: policy.step_time_limit_ms,
            saga_timeout_ms: policy.saga_timeout_ms,
            park_after_attempts: policy.park_after_attempts,
        };
        let mut now = 0;
        let old_ctx = |now| Context {
            now_ms: now,
            saga_started_ms: 0,
            policy: &policy,
        };
        let new_ctx = |now| generic::Context {
            now_ms: now,
            saga_started_ms: 0,
            policy: &generic_policy,
            definition: &definition,
        };
        let (old, new) = (start(now), generic::start(&new_ctx(now)));
        let lines: Vec<Line> = old.log.iter().map(line).collect();
        assert_eq!(
            lines,
            new.log.iter().map(generic_line).collect::<Vec<_>>(),
            "seed {seed}"
        );
        let (mut old_state, mut new_state, mut command) = (old.state, new.state, old.command);
        for _ in 0..500 {
            let Some(due) = command.take() else { break };
            now += rng.random_range(0..20);
            let (old_event, new_event) = match (due, rng.random_bool(0.05)) {
                (_, true) => (Event::Resumed, generic::Event::Resumed),
                (Command::Backoff { .. }, false) => (Event::RetryDue, generic::Event::RetryDue),
                (Command::Send { .. }, false) => {
                    let answer = match rng.random_range(0..10) {
                        0..=5 => Answer::Ok,
                        6..=8 => Answer::Transient,
                        _ => Answer::Refused,
                    };
                    (old_event(&old_state, &answer), generic_event(&answer))
                }
            };
            let old = transition(&old_state, &old_event, &old_ctx(now)).expect("legal");
            let new = generic::transition(&new_state, &new_event, &new_ctx(now)).expect("legal");
            let lines: Vec<Line> = old.log.iter().map(line).collect();
            let generic_lines: Vec<Line> = new.log.iter().map(generic_line).collect();
            assert_eq!(
                lines, generic_lines,
                "seed {seed} at {now} on {old_event:?}"
            );
            assert_eq!(old.command.is_some(), new.command.is_some(), "seed {seed}");
            (old_state, new_state, command) = (old.state, new.state, old.command);
        }
        assert_eq!(old_state.cause(), new_state.cause.as_deref(), "seed {seed}");
    }
}
