//! Table tests of `transition`: every legal (state, event) pair, and every other pair
//! refused.

use super::*;

const POLICY: Policy = Policy {
    max_attempts: 3,
    step_time_limit_ms: 10_000,
    saga_timeout_ms: Some(60_000),
    park_after_attempts: 10,
};
const NOW: i64 = 1_000;

fn ctx() -> Context<'static> {
    Context {
        now_ms: NOW,
        saga_started_ms: 0,
        policy: &POLICY,
    }
}

/// A context in which the saga's deadline has passed.
fn late() -> Context<'static> {
    Context {
        now_ms: 60_000,
        ..ctx()
    }
}

fn fresh() -> Progress {
    Progress::first(NOW)
}

fn at(attempt: u32, in_flight: bool, maybe_applied: bool) -> Progress {
    Progress {
        attempt,
        started_ms: 0,
        in_flight,
        maybe_applied,
        parked: false,
    }
}

fn rec(step: Step, outcome: Outcome, attempt: u32, detail: &str, status: SagaStatus) -> LogRecord {
    LogRecord {
        step,
        outcome,
        attempt,
        detail: detail.to_string(),
        status,
    }
}

fn transient() -> Event {
    Event::CallFailed {
        failure: Failure::Transient,
        detail: "UNAVAILABLE: down".into(),
    }
}

fn refused() -> Event {
    Event::CallFailed {
        failure: Failure::Permanent,
        detail: "FAILED_PRECONDITION: over limit".into(),
    }
}

fn creating_invoice(progress: Progress) -> SagaState {
    SagaState::CreatingInvoice {
        order_id: "o1".into(),
        progress,
    }
}

fn confirming(progress: Progress) -> SagaState {
    SagaState::ConfirmingOrder {
        order_id: "o1".into(),
        invoice_id: "i1".into(),
        progress,
    }
}

fn voiding(progress: Progress) -> SagaState {
    SagaState::VoidingInvoice {
        order_id: "o1".into(),
        invoice_id: None,
        progress,
        cause: "c".into(),
    }
}

fn cancelling(progress: Progress) -> SagaState {
    SagaState::CancellingOrder {
        order_id: Some("o1".into()),
        invoice_id: None,
        progress,
        cause: "c".into(),
    }
}

fn step(state: &SagaState, event: Event) -> Transition {
    transition(state, &event, &ctx()).expect("legal transition")
}

#[test]
fn a_new_saga_is_accepted_and_creates_the_order() {
    let t = start(NOW);
    assert_eq!(
        t,
        Transition {
            state: SagaState::CreatingOrder { progress: fresh() },
            log: vec![
                rec(
                    Step::Saga,
                    Outcome::Started,
                    0,
                    "saga accepted",
                    SagaStatus::Running
                ),
                rec(
                    Step::CreateOrder,
                    Outcome::Started,
                    1,
                    "",
                    SagaStatus::Running
                ),
            ],
            command: Some(Command::Send {
                call: Call::CreateOrder,
                attempt: 1
            }),
        }
    );
}

#[test]
fn the_happy_path_creates_invoices_confirms_and_completes() {
    let created = step(
        &start(NOW).state,
        Event::OrderCreated {
            order_id: "o1".into(),
        },
    );
    assert_eq!(created.state, creating_invoice(fresh()));
    assert_eq!(
        created.log,
        vec![
            rec(
                Step::CreateOrder,
                Outcome::Succeeded,
                1,
                "",
                SagaStatus::Running
            ),
            rec(
                Step::CreateInvoice,
                Outcome::Started,
                1,
                "",
                SagaStatus::Running
            ),
        ]
    );
    let issued = step(
        &created.state,
        Event::InvoiceIssued {
            invoice_id: "i1".into(),
        },
    );
    assert_eq!(issued.state, confirming(fresh()));
    assert_eq!(
        issued.command,
        Some(Command::Send {
            call: Call::ConfirmOrder {
                order_id: "o1".into()
            },
            attempt: 1
        })
    );
    let done = step(&issued.state, Event::OrderConfirmed);
    assert_eq!(
        done,
        Transition {
            state: SagaState::Completed {
                order_id: "o1".into(),
                invoice_id: "i1".into()
            },
            log: vec![
                rec(
                    Step::ConfirmOrder,
                    Outcome::Succeeded,
                    1,
                    "",
                    SagaStatus::Completed
                ),
                rec(
                    Step::Saga,
                    Outcome::Succeeded,
                    0,
                    "saga completed",
                    SagaStatus::Completed
                ),
            ],
            command: None,
        }
    );
}

#[test]
fn a_transient_failure_schedules_a_retry_and_marks_the_step_maybe_applied() {
    let t = step(&creating_invoice(fresh()), transient());
    assert_eq!(
        t.state,
        creating_invoice(Progress {
            started_ms: NOW,
            ..at(1, false, true)
        })
    );
    assert_eq!(
        t.command,
        Some(Command::Backoff {
            attempt: 1,
            parked: false
        })
    );
    assert_eq!(
        t.log,
        vec![rec(
            Step::CreateInvoice,
            Outcome::RetryScheduled,
            1,
            "UNAVAILABLE: down",
            SagaStatus::Running
        )]
    );
    let retried = step(&t.state, Event::RetryDue);
    assert_eq!(
        retried.state,
        creating_invoice(Progress {
            started_ms: NOW,
            ..at(2, true, true)
        })
    );
    assert_eq!(
        retried.command,
        Some(Command::Send {
            call: Call::CreateInvoice {
                order_id: "o1".into()
            },
            attempt: 2
        })
    );
}

#[test]
fn a_refused_invoice_skips_the_void_and_cancels_the_order() {
    let t = step(&creating_invoice(fresh()), refused());
    let cause = "create_invoice refused: FAILED_PRECONDITION: over limit";
    assert_eq!(
        t.state,
        SagaState::CancellingOrder {
            order_id: Some("o1".into()),
            invoice_id: None,
            progress: fresh(),
            cause: cause.into()
        }
    );
    assert_eq!(
        t.log,
        vec![
            rec(
                Step::CreateInvoice,
                Outcome::Failed,
                1,
                "FAILED_PRECONDITION: over limit",
                SagaStatus::Compensating
            ),
            rec(
                Step::CancelOrder,
                Outcome::Started,
                1,
                "",
                SagaStatus::Compensating
            ),
        ]
    );
}

#[test]
fn a_refused_invoice_after_an_ambiguous_attempt_voids_it_first() {
    let t = step(&creating_invoice(at(2, true, true)), refused());
    assert!(matches!(
        t.state,
        SagaState::VoidingInvoice {
            invoice_id: None,
            ..
        }
    ));
    assert_eq!(
        t.command,
        Some(Command::Send {
            call: Call::VoidInvoice { invoice_id: None },
            attempt: 1
        })
    );
}

#[test]
fn an_action_out_of_attempts_compensates_what_it_may_have_done() {
    let t = step(&creating_invoice(at(3, true, true)), transient());
    assert!(matches!(t.state, SagaState::VoidingInvoice { .. }));
    assert_eq!(
        t.state.cause(),
        Some("create_invoice gave up after 3 attempts: UNAVAILABLE: down")
    );
}

#[test]
fn an_action_past_its_time_limit_gives_up() {
    let old = Progress {
        started_ms: NOW - POLICY.step_time_limit_ms,
        ..fresh()
    };
    let t = step(&SagaState::CreatingOrder { progress: old }, transient());
    assert!(matches!(
        t.state,
        SagaState::CancellingOrder { order_id: None, .. }
    ));
}

#[test]
fn a_refused_order_ends_compensated_with_nothing_to_undo() {
    let t = step(&SagaState::CreatingOrder { progress: fresh() }, refused());
    assert_eq!(
        t.state,
        SagaState::Compensated {
            order_id: None,
            invoice_id: None,
            cause: "create_order refused: FAILED_PRECONDITION: over limit".into()
        }
    );
    assert_eq!(t.command, None);
    assert_eq!(t.log.last().map(|r| r.step), Some(Step::Saga));
}

#[test]
fn confirmation_and_compensations_retry_without_limit_and_park_when_stuck() {
    for make in [confirming, voiding, cancelling] {
        let early = step(&make(at(2, true, false)), transient());
        let expected = Command::Backoff {
            attempt: 2,
            parked: false,
        };
        assert_eq!(early.command, Some(expected), "{:?}", early.state);
        let stuck = step(&make(at(10, true, false)), transient());
        let expected = Command::Backoff {
            attempt: 10,
            parked: true,
        };
        assert_eq!(stuck.command, Some(expected), "{:?}", stuck.state);
        assert!(stuck.log[0].detail.starts_with("parked: "));
        let retried = step(&stuck.state, Event::RetryDue);
        assert_eq!(retried.state.pending().map(|(_, p)| p.attempt), Some(11));
    }
}

#[test]
fn past_its_deadline_a_saga_compensates_what_it_did_before_the_confirmation() {
    let after_order = transition(
        &SagaState::CreatingOrder { progress: fresh() },
        &Event::OrderCreated {
            order_id: "o1".into(),
        },
        &late(),
    )
    .expect("legal");
    assert_eq!(
        after_order.state,
        SagaState::CancellingOrder {
            order_id: Some("o1".into()),
            invoice_id: None,
            progress: Progress::first(60_000),
            cause: DEADLINE_PASSED.into()
        }
    );
    let after_invoice = transition(
        &creating_invoice(fresh()),
        &Event::InvoiceIssued {
            invoice_id: "i1".into(),
        },
        &late(),
    )
    .expect("legal");
    assert_eq!(
        after_invoice.command,
        Some(Command::Send {
            call: Call::VoidInvoice {
                invoice_id: Some("i1".into())
            },
            attempt: 1
        })
    );
    let failing = transition(&creating_invoice(fresh()), &transient(), &late()).expect("legal");
    assert!(matches!(failing.state, SagaState::VoidingInvoice { .. }));
    let waiting = transition(
        &creating_invoice(at(1, false, true)),
        &Event::RetryDue,
        &late(),
    )
    .expect("legal");
    assert!(matches!(waiting.state, SagaState::VoidingInvoice { .. }));
    assert_eq!(waiting.log[0].outcome, Outcome::Failed);
}

#[test]
fn past_its_deadline_a_confirming_saga_still_completes() {
    let t = transition(&confirming(fresh()), &transient(), &late()).expect("legal");
    assert!(matches!(t.command, Some(Command::Backoff { .. })));
    let done = transition(&confirming(fresh()), &Event::OrderConfirmed, &late()).expect("legal");
    assert_eq!(done.state.status(), SagaStatus::Completed);
}

#[test]
fn a_refused_compensation_or_confirmation_fails_the_saga() {
    for state in [confirming(fresh()), voiding(fresh()), cancelling(fresh())] {
        let t = step(&state, refused());
        assert_eq!(t.state.status(), SagaStatus::Failed, "{state:?}");
        assert_eq!(t.command, None);
        assert_eq!(t.state.order_id(), Some("o1"));
    }
}

#[test]
fn compensation_voids_then_cancels_then_ends_compensated() {
    let voided = step(&voiding(fresh()), Event::InvoiceVoided);
    assert_eq!(voided.state, cancelling(fresh()));
    assert_eq!(
        voided.log,
        vec![
            rec(
                Step::VoidInvoice,
                Outcome::Succeeded,
                1,
                "",
                SagaStatus::Compensating
            ),
            rec(
                Step::CancelOrder,
                Outcome::Started,
                1,
                "",
                SagaStatus::Compensating
            ),
        ]
    );
    let cancelled = step(&voided.state, Event::OrderCancelled);
    assert_eq!(
        cancelled.state,
        SagaState::Compensated {
            order_id: Some("o1".into()),
            invoice_id: None,
            cause: "c".into()
        }
    );
    assert_eq!(
        cancelled.log,
        vec![
            rec(
                Step::CancelOrder,
                Outcome::Succeeded,
                1,
                "",
                SagaStatus::Compensated
            ),
            rec(
                Step::Saga,
                Outcome::Failed,
                0,
                "saga compensated: c",
                SagaStatus::Compensated
            ),
        ]
    );
}

#[test]
fn a_restart_reissues_the_call_as_a_new_attempt_that_may_have_applied() {
    let t = step(&creating_invoice(at(1, true, false)), Event::Resumed);
    assert_eq!(t.state, creating_invoice(at(2, true, true)));
    assert_eq!(
        t.log,
        vec![rec(
            Step::CreateInvoice,
            Outcome::Started,
            2,
            "resumed after restart",
            SagaStatus::Running
        )]
    );
    let waiting = step(&cancelling(at(4, false, true)), Event::Resumed);
    assert_eq!(waiting.state, cancelling(at(5, true, true)));
}

/// Every state (in flight and waiting) crossed with every event: exactly the legal
/// pairs are accepted.
#[test]
fn every_other_pair_is_refused_and_every_legal_one_logs_a_record() {
    let done = [
        SagaState::Completed {
            order_id: "o1".into(),
            invoice_id: "i1".into(),
        },
        SagaState::Compensated {
            order_id: None,
            invoice_id: None,
            cause: "c".into(),
        },
        SagaState::Failed {
            order_id: None,
            invoice_id: None,
            cause: "c".into(),
        },
    ];
    let live = |p| {
        vec![
            SagaState::CreatingOrder { progress: p },
            creating_invoice(p),
            confirming(p),
            voiding(p),
            cancelling(p),
        ]
    };
    let events = [
        Event::OrderCreated {
            order_id: "o1".into(),
        },
        Event::InvoiceIssued {
            invoice_id: "i1".into(),
        },
        Event::OrderConfirmed,
        Event::InvoiceVoided,
        Event::OrderCancelled,
        transient(),
        refused(),
        Event::RetryDue,
        Event::Resumed,
    ];
    let states = live(fresh())
        .into_iter()
        .chain(live(at(1, false, true)))
        .chain(done);
    for state in states {
        for event in &events {
            let legal = is_legal(&state, event);
            let result = transition(&state, event, &ctx());
            assert_eq!(result.is_ok(), legal, "{state:?} + {event:?}");
            // Each write raises the saga's version; its records show it (fencing check).
            if let Ok(t) = result {
                assert!(!t.log.is_empty(), "{state:?} + {event:?} logs nothing");
            }
        }
    }
}

fn is_legal(state: &SagaState, event: &Event) -> bool {
    let Some((call, progress)) = state.pending() else {
        return false;
    };
    let answer_of_call = matches!(
        (call, event),
        (Call::CreateOrder, Event::OrderCreated { .. })
            | (Call::CreateInvoice { .. }, Event::InvoiceIssued { .. })
            | (Call::ConfirmOrder { .. }, Event::OrderConfirmed)
            | (Call::VoidInvoice { .. }, Event::InvoiceVoided)
            | (Call::CancelOrder { .. }, Event::OrderCancelled)
    );
    match event {
        Event::Resumed => true,
        Event::RetryDue => !progress.in_flight,
        Event::CallFailed { .. } => progress.in_flight,
        _ => progress.in_flight && answer_of_call,
    }
}
