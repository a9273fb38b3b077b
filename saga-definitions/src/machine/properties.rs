//! Property tests over generated definitions (compensatable steps, at most one pivot,
//! retriable steps) and generated runs (each call succeeding, failing transiently or for
//! good, the process restarting): every run ends, undoes what may have taken effect in
//! reverse order, never undoes a step that never ran or is past the point of no return,
//! and never has an effect twice.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::*;
use crate::model::{CallDef, Definition, Kind, MethodName, Retry, StepDef};
use crate::template::Node;

const RUNS: u64 = 3_000;
const BACKOFF: Backoff = Backoff {
    base_ms: 2,
    max_ms: 40,
    parked_ms: 100,
};
/// Attempts after which the generated world lets a call that never gives up succeed.
const PATIENCE: u32 = 12;

fn call(method: &str) -> CallDef {
    CallDef {
        method: MethodName::parse(&format!("test.v1.Steps/{method}")).expect("a method"),
        input: Node::Object(Vec::new()),
    }
}

/// 1 to 6 steps: some compensatable, maybe a pivot, some retriable.
fn definition(rng: &mut StdRng) -> Definition {
    let compensatable = rng.random_range(0..=3);
    let pivot = rng.random_bool(0.5);
    let retriable = rng.random_range(0..=2);
    let mut kinds = vec![Kind::Compensatable; compensatable];
    kinds.extend(pivot.then_some(Kind::Pivot));
    kinds.extend(std::iter::repeat_n(Kind::Retriable, retriable));
    if kinds.is_empty() {
        kinds.push(Kind::Pivot);
    }
    let steps = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| StepDef {
            name: format!("do{i}"),
            action: call(&format!("Do{i}")),
            compensation: (*kind == Kind::Compensatable).then(|| call(&format!("Undo{i}"))),
            kind: *kind,
            retry: Retry::default(),
        })
        .collect();
    Definition {
        name: "generated".into(),
        description: String::new(),
        steps,
        output: None,
    }
}

/// What the participants saw, per step: actions and compensations that took effect.
#[derive(Debug, Default, Clone)]
struct World {
    applied: Vec<u32>,
    undone: Vec<u32>,
    /// The order in which compensations took effect.
    undo_order: Vec<usize>,
    /// Steps whose action was sent at least once.
    sent: Vec<bool>,
}

#[test]
fn every_generated_run_ends_undoing_what_it_did_in_reverse_and_nothing_twice() {
    for seed in 0..RUNS {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = definition(&mut rng);
        let policy = Policy {
            max_attempts: rng.random_range(1..=4),
            step_time_limit_ms: 1_000_000,
            saga_timeout_ms: rng.random_bool(0.2).then(|| rng.random_range(0..50)),
            park_after_attempts: 5,
            backoff: BACKOFF,
        };
        check_run(&d, &policy, &mut rng, seed, false);
    }
}

/// The same runs with an operator stepping in now and then (retry, abort, skip, a
/// repeated request) and at every FAILED end (retry, skip or resolve): every run still
/// ends, and what an abort cut off in flight, or an operator did by hand, is undone like
/// the rest.
#[test]
fn runs_with_operators_stepping_in_end_undoing_what_took_effect() {
    for seed in 0..RUNS {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = definition(&mut rng);
        let policy = Policy {
            max_attempts: rng.random_range(1..=4),
            step_time_limit_ms: 1_000_000,
            saga_timeout_ms: None,
            park_after_attempts: 5,
            backoff: BACKOFF,
        };
        check_run(&d, &policy, &mut rng, seed, true);
    }
}

fn check_run(d: &Definition, policy: &Policy, rng: &mut StdRng, seed: u64, operators: bool) {
    let n = d.steps.len();
    let mut world = World {
        applied: vec![0; n],
        undone: vec![0; n],
        undo_order: Vec::new(),
        sent: vec![false; n],
    };
    let mut now = 0;
    let ctx = |now, jitter| Context {
        now_ms: now,
        saga_started_ms: 0,
        policy,
        definition: d,
        jitter,
    };
    let first = start(&ctx(now, 0.0));
    let (mut state, mut command) = (first.state, first.command);
    let mut operator = Operator::default();
    for _ in 0..10_000 {
        now += rng.random_range(0..5);
        let steps_in = operators && (command.is_none() || rng.random_bool(0.05));
        let jitter = rng.random_range(0.0..=1.0);
        if steps_in && let Some(moved) = operator.act(&state, &mut world, &ctx(now, jitter), rng) {
            (state, command) = (moved.state, moved.command);
            continue;
        }
        let Some(next) = command else { break };
        let event = match next {
            Command::Wait { until_ms, .. } => {
                // The wait is over when the engine says so; sometimes a restart or an
                // operator comes first.
                if rng.random_bool(0.9) {
                    now = now.max(until_ms);
                }
                Event::RetryDue
            }
            Command::Send {
                step,
                operation,
                attempt,
            } => world.answer(d, step, operation, attempt, rng),
        };
        let event = match rng.random_bool(0.05) {
            true => Event::Resumed,
            false => event,
        };
        let moved = transition(&state, &event, &ctx(now, jitter))
            .unwrap_or_else(|e| panic!("seed {seed}: {e} in {state:?}"));
        if let Some(Command::Wait { until_ms, .. }) = moved.command {
            let due = moved.state.pending().and_then(|(_, _, p)| p.retry_at_ms);
            assert_eq!(due, Some(until_ms), "seed {seed}: the wait is the state's");
            // A wait scheduled now is in the future; one kept over a restart may be over.
            let scheduled = !moved.log.is_empty();
            assert!(
                !scheduled || until_ms >= now,
                "seed {seed}: a retry due in the past"
            );
        }
        (state, command) = (moved.state, moved.command);
    }
    let status = state.status();
    assert!(status.is_terminal(), "seed {seed}: did not end: {state:?}");
    world.holds(d, status, seed);
}

/// An operator acting on the saga at random, and checking that a repeated request changes
/// nothing.
#[derive(Default)]
struct Operator {
    requests: u32,
    /// Times the saga was found FAILED.
    failures: u32,
}

impl Operator {
    /// A random action on `state`, its transition when accepted. Refused actions must
    /// leave the state alone, which holds by construction (they answer an error).
    fn act(
        &mut self,
        state: &SagaState,
        world: &mut World,
        ctx: &Context,
        rng: &mut StdRng,
    ) -> Option<Transition> {
        let failed = state.status() == SagaStatus::Failed;
        if failed {
            self.failures += 1;
        }
        let current = match state.position {
            Position::Forward { step, .. } => Some(step),
            Position::Failed {
                refused: Some(call),
            } if call.operation == Operation::Action => Some(call.step),
            _ => None,
        };
        let skip = |step: usize| Action::Skip {
            step: ctx.definition.steps[step].name.clone(),
            output: json!({"id": step}),
        };
        let action = match (failed, rng.random_range(0..4)) {
            (true, _) if self.failures > 3 => Action::Resolve,
            (_, 0) => Action::Retry,
            (false, 1) => Action::Abort,
            (_, 2) if current.is_some() => skip(current.unwrap_or_default()),
            (true, _) => Action::Resolve,
            (false, _) => Action::Retry,
        };
        self.requests += 1;
        let request = Intervention {
            action: action.clone(),
            principal: "ops".into(),
            reason: "testing".into(),
            request_id: format!("r{}", self.requests),
        };
        let Ok(Intervened::Apply(moved)) = intervene(state, &request, ctx) else {
            return None;
        };
        assert_eq!(moved.log[0].step, OPERATOR_STEP);
        let again = intervene(&moved.state, &request, ctx);
        assert_eq!(again, Ok(Intervened::AlreadyApplied));
        // A call cut off by the action may still take effect; a skipped step was done
        // by hand.
        if let Some((step, operation, progress)) = state.pending() {
            let took_effect = progress.in_flight && rng.random_bool(0.5);
            let by_hand = matches!(action, Action::Skip { .. });
            if operation == Operation::Action && progress.in_flight {
                world.sent[step] = true;
            }
            if (took_effect || by_hand) && operation == Operation::Action {
                world.sent[step] = true;
                if world.undone[step] == 0 {
                    world.applied[step] = 1;
                }
            }
        } else if let Some(step) = current.filter(|_| matches!(action, Action::Skip { .. })) {
            world.sent[step] = true;
            world.applied[step] = 1;
        }
        Some(moved)
    }
}

impl World {
    /// The participant's side of a call: it may take effect and answer, take effect and
    /// lose the answer, refuse, or fail before doing anything.
    fn answer(
        &mut self,
        d: &Definition,
        step: usize,
        operation: Operation,
        attempt: u32,
        rng: &mut StdRng,
    ) -> Event {
        let never_gives_up =
            operation == Operation::Compensation || d.steps[step].kind == Kind::Retriable;
        // A barrier answers a repeat of what took effect with its first answer: never a
        // refusal.
        let done = match operation {
            Operation::Action => self.applied[step] == 1,
            Operation::Compensation => self.undone[step] == 1,
        };
        let roll: u32 = match (never_gives_up && attempt >= PATIENCE, done) {
            (true, _) => 0,
            (false, true) => rng.random_range(0..8),
            (false, false) => rng.random_range(0..10),
        };
        // A barrier: a repeat of something that took effect has no second effect.
        let take_effect = |world: &mut World| match operation {
            Operation::Action => {
                world.sent[step] = true;
                if world.applied[step] == 0 && world.undone[step] == 0 {
                    world.applied[step] = 1;
                }
            }
            Operation::Compensation => {
                if world.undone[step] == 0 {
                    world.undone[step] = 1;
                    world.undo_order.push(step);
                }
            }
        };
        match roll {
            0..=5 => {
                take_effect(self);
                Event::Succeeded {
                    output: json!({"id": step}),
                }
            }
            6 => {
                take_effect(self);
                Event::CallFailed {
                    failure: Failure::Transient,
                    detail: "lost answer".into(),
                }
            }
            7 => {
                if operation == Operation::Action {
                    self.sent[step] = true;
                }
                Event::CallFailed {
                    failure: Failure::Transient,
                    detail: "down".into(),
                }
            }
            _ if never_gives_up && rng.random_bool(0.9) => Event::CallFailed {
                failure: Failure::Transient,
                detail: "busy".into(),
            },
            _ => {
                if operation == Operation::Action {
                    self.sent[step] = true;
                }
                Event::CallFailed {
                    failure: Failure::Permanent,
                    detail: "no".into(),
                }
            }
        }
    }

    /// What must hold once the saga ended.
    fn holds(&self, d: &Definition, status: SagaStatus, seed: u64) {
        let n = d.steps.len();
        let context = format!("seed {seed}: {self:?} ended {status:?}");
        for i in 0..n {
            assert!(
                self.applied[i] <= 1 && self.undone[i] <= 1,
                "twice: {context}"
            );
            if self.undone[i] == 1 {
                assert!(self.sent[i], "undid a step never sent: {context}");
                assert_eq!(
                    d.steps[i].kind,
                    Kind::Compensatable,
                    "undid past the pivot: {context}"
                );
            }
        }
        let mut reversed = self.undo_order.clone();
        reversed.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(self.undo_order, reversed, "not in reverse order: {context}");
        match status {
            SagaStatus::Completed => {
                assert!(
                    self.applied.iter().all(|a| *a == 1),
                    "incomplete: {context}"
                );
                assert!(
                    self.undo_order.is_empty(),
                    "undid a completed saga: {context}"
                );
            }
            SagaStatus::Compensated => {
                for i in 0..n {
                    if self.applied[i] == 1 && d.steps[i].kind == Kind::Compensatable {
                        assert_eq!(self.undone[i], 1, "left step {i} applied: {context}");
                    }
                    assert!(
                        self.applied[i] == 0 || d.steps[i].kind == Kind::Compensatable,
                        "compensated past the point of no return: {context}"
                    );
                }
            }
            SagaStatus::Failed | SagaStatus::Resolved => {}
            SagaStatus::Running | SagaStatus::Compensating => unreachable!("{context}"),
        }
    }
}
