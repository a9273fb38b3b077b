//! Views of a saga's durable log that tests compare as whole values.

use saga_contracts::saga::v1::{Saga, StepOutcome, StepPhase};

/// Step name of the records about the saga as a whole.
pub const SAGA: &str = "saga";

/// One log record without its time, attempt and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub step: String,
    pub phase: StepPhase,
    pub outcome: StepOutcome,
}

/// Shorthand for a [`Line`].
pub fn line(step: &str, phase: StepPhase, outcome: StepOutcome) -> Line {
    Line {
        step: step.to_string(),
        phase,
        outcome,
    }
}

/// The saga's log, in `seq` order, as lines.
pub fn lines(saga: &Saga) -> Vec<Line> {
    let mut log = saga.log.clone();
    log.sort_by_key(|e| e.seq);
    log.iter()
        .map(|e| line(&e.step, e.phase(), e.outcome()))
        .collect()
}

/// The records of the saga's calls (the `saga` records left out), in `seq` order.
pub fn step_lines(saga: &Saga) -> Vec<Line> {
    lines(saga).into_iter().filter(|l| l.step != SAGA).collect()
}

/// How many records of `step` with `outcome` the sagas' logs hold in total.
pub fn count(sagas: &[Saga], step: &str, outcome: StepOutcome) -> usize {
    sagas
        .iter()
        .flat_map(|s| &s.log)
        .filter(|e| e.step == step && e.outcome() == outcome)
        .count()
}
