//! The liveness rule: every saga has ended a bound after the last fault ended. A saga
//! seen unfinished later than that had no driver, or one that did not drive, whether or
//! not it ended afterwards.

use std::time::Duration;

use saga_contracts::saga::v1::SagaStatus;

/// A saga seen unfinished after the last fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Straggler {
    pub saga_id: String,
    /// Its status when last seen unfinished (RUNNING or COMPENSATING).
    pub status: SagaStatus,
    /// How long after the last fault it was last seen unfinished.
    pub last_seen_unfinished: Duration,
    /// Whether it was seen ended afterwards.
    pub ended: bool,
}

/// One sentence per saga seen unfinished at or past `bound` after the last fault.
pub fn liveness_violations(bound: Duration, stragglers: &[Straggler]) -> Vec<String> {
    stragglers
        .iter()
        .filter(|s| s.last_seen_unfinished >= bound)
        .map(|s| {
            format!(
                "liveness: saga {} was still {} {:.1}s after the last fault, past the bound of {:.1}s ({})",
                s.saga_id,
                s.status.as_str_name(),
                s.last_seen_unfinished.as_secs_f64(),
                bound.as_secs_f64(),
                match s.ended {
                    true => "it ended later",
                    false => "it never ended",
                }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn straggler(id: &str, seen_ms: u64, ended: bool) -> Straggler {
        Straggler {
            saga_id: id.to_string(),
            status: SagaStatus::Running,
            last_seen_unfinished: Duration::from_millis(seen_ms),
            ended,
        }
    }

    #[test]
    fn a_saga_unfinished_past_the_bound_is_a_violation_even_if_it_ended_later() {
        let bound = Duration::from_secs(5);
        let found = liveness_violations(
            bound,
            &[
                straggler("on-time", 4_999, true),
                straggler("late", 5_000, true),
                straggler("stuck", 120_000, false),
            ],
        );
        assert_eq!(
            found,
            vec![
                "liveness: saga late was still SAGA_STATUS_RUNNING 5.0s after the last fault, past the bound of 5.0s (it ended later)",
                "liveness: saga stuck was still SAGA_STATUS_RUNNING 120.0s after the last fault, past the bound of 5.0s (it never ended)",
            ]
        );
    }
}
