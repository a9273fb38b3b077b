//! The pure state machine that runs any checked definition: `transition(state, event)
//! -> new state + log records + next command`, with no IO. The state says which step is
//! in progress and in which direction, how its current call stands, and what each
//! step's action did (its output, or that it may have taken effect); the engine feeds in
//! call results, retry timers and restarts, and carries out the commands.
//!
//! The rules: steps run in order; a step whose call fails transiently is retried with
//! backoff (and may have taken effect). A compensatable step that fails for good
//! (refused, out of attempts or time, or past the saga's deadline) starts the
//! compensations of every earlier step that may have taken effect, itself included, in
//! reverse order; so does a refused pivot, but a pivot is otherwise retried until it
//! answers (one that may have taken effect cannot be undone). Retriable steps and
//! compensations never give up (they are parked after many attempts), and a definite
//! refusal of one ends the saga FAILED. Operators' actions (retry, abort, resolve, skip)
//! are decided here too, by [`intervene`].

mod backoff;
mod operator;
mod scope;
mod state;
mod transition;
mod unhappy;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use operator::{Action, Intervened, Intervention, Refused, intervene};
pub use scope::SagaScope;
pub use state::{Effect, Position, Progress, RefusedCall, SagaState, SagaStatus};
pub use transition::{
    Command, Context, DEADLINE_PASSED, Event, Failure, InvalidTransition, LogRecord, OPERATOR_STEP,
    Operation, Outcome, Policy, RESUMED, SAGA_STEP, Transition, start, transition,
};
