//! The rules of a definition's form beyond its templates: kinds that match their
//! compensation and come in order, log names that are unique, retry limits that make
//! sense.

use saga_contracts::saga::v1 as pb;

use super::{Checker, MAX_ATTEMPTS, MAX_MS};
use crate::model::{Kind, MethodName, Retry};

impl Checker<'_> {
    pub(super) fn kind(&mut self, at: &str, kind: i32, compensated: bool) -> Option<Kind> {
        let kind = match pb::StepKind::try_from(kind) {
            Ok(pb::StepKind::Unspecified) if compensated => Kind::Compensatable,
            Ok(pb::StepKind::Unspecified) => Kind::Pivot,
            Ok(pb::StepKind::Compensatable) => Kind::Compensatable,
            Ok(pb::StepKind::Pivot) => Kind::Pivot,
            Ok(pb::StepKind::Retriable) => Kind::Retriable,
            Err(_) => {
                self.problem(format!("{at}.kind"), format!("{kind} is not a step kind"));
                return None;
            }
        };
        let problem = match (kind, compensated) {
            (Kind::Compensatable, false) => Some("a compensatable step needs a compensation"),
            (Kind::Pivot, true) => Some("a pivot has nothing to undo: drop the compensation"),
            (Kind::Retriable, true) => {
                Some("a retriable step is never undone: drop the compensation")
            }
            _ => None,
        };
        if let Some(message) = problem {
            self.problem(format!("{at}.kind"), message);
        }
        Some(kind)
    }

    /// Compensatable steps first, then at most one pivot, then retriable steps.
    pub(super) fn kinds_in_order(&mut self, kinds: &[Option<Kind>]) {
        let mut past: Option<(usize, Kind)> = None;
        for (i, kind) in kinds.iter().enumerate() {
            let Some(kind) = *kind else { continue };
            match (past, kind) {
                (Some((j, _)), Kind::Compensatable) => self.problem(
                    format!("steps[{i}].kind"),
                    format!("a compensatable step cannot come after steps[{j}], which is never undone"),
                ),
                (Some((j, Kind::Pivot)), Kind::Pivot) | (Some((j, Kind::Retriable)), Kind::Pivot) => self.problem(
                    format!("steps[{i}].kind"),
                    format!("a pivot cannot come after steps[{j}]: there is one go/no-go step, before the retriable ones"),
                ),
                (None, Kind::Pivot | Kind::Retriable) => past = Some((i, kind)),
                (Some((j, _)), Kind::Retriable) => past = Some((j, Kind::Retriable)),
                _ => {}
            }
        }
    }

    /// The saga log names each action by its step and each compensation by its method
    /// (in snake case): no two may be the same.
    pub(super) fn log_names_unique(&mut self, steps: &[pb::Step]) {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            seen.push((step.name.clone(), format!("steps[{i}].name")));
        }
        for (i, step) in steps.iter().enumerate() {
            let Some(method) = MethodName::parse(&step.compensation) else {
                continue;
            };
            let name = crate::model::snake_case(&method.method);
            if let Some((_, owner)) = seen.iter().find(|(n, _)| *n == name) {
                self.problem(
                    format!("steps[{i}].compensation"),
                    format!("its log name {name:?} is already {owner}'s"),
                );
            }
            seen.push((name, format!("steps[{i}].compensation")));
        }
    }

    pub(super) fn retry(&mut self, at: &str, retry: Option<&pb::RetryPolicy>) -> Retry {
        let Some(r) = retry else {
            return Retry::default();
        };
        let given = |v: u32| (v > 0).then_some(v);
        let limits = [
            ("max_attempts", r.max_attempts, MAX_ATTEMPTS),
            ("initial_backoff_ms", r.initial_backoff_ms, MAX_MS),
            ("max_backoff_ms", r.max_backoff_ms, MAX_MS),
            ("step_time_limit_ms", r.step_time_limit_ms, MAX_MS),
            ("call_timeout_ms", r.call_timeout_ms, MAX_MS),
        ];
        for (field, value, max) in limits {
            if value > max {
                self.problem(
                    format!("{at}.retry.{field}"),
                    format!("{value} is over the limit of {max}"),
                );
            }
        }
        if r.initial_backoff_ms > 0
            && r.max_backoff_ms > 0
            && r.initial_backoff_ms > r.max_backoff_ms
        {
            self.problem(
                format!("{at}.retry.initial_backoff_ms"),
                format!(
                    "{} is more than max_backoff_ms {}",
                    r.initial_backoff_ms, r.max_backoff_ms
                ),
            );
        }
        if r.call_timeout_ms > 0
            && r.step_time_limit_ms > 0
            && r.call_timeout_ms > r.step_time_limit_ms
        {
            self.problem(
                format!("{at}.retry.call_timeout_ms"),
                format!(
                    "{} is more than step_time_limit_ms {}",
                    r.call_timeout_ms, r.step_time_limit_ms
                ),
            );
        }
        Retry {
            max_attempts: given(r.max_attempts),
            initial_backoff_ms: given(r.initial_backoff_ms),
            max_backoff_ms: given(r.max_backoff_ms),
            step_time_limit_ms: given(r.step_time_limit_ms),
            call_timeout_ms: given(r.call_timeout_ms),
        }
    }
}
