//! The saga's business, decided without IO: what a saga is in each state, what can
//! happen to it, and what must be done next. The engine feeds events in and carries the
//! commands out; nothing here touches a database, the network or a clock.

mod command;
mod event;
mod log;
mod order;
mod retry;
mod state;
mod transition;

#[cfg(test)]
mod equivalence;
#[cfg(test)]
mod tests;

pub use command::{Call, Command};
pub use event::{Event, Failure};
pub use log::{LogRecord, Outcome, Phase, Step};
pub use order::{InvalidOrder, LineItem, OrderRequest};
pub use state::{Progress, SagaState, SagaStatus};
pub use transition::{
    Context, DEADLINE_PASSED, InvalidTransition, Policy, RESUMED, Transition, start, transition,
};
