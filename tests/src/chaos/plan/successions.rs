//! Overlapping generations of a replica: its successor started while it is still
//! draining after SIGTERM, under the same replica id (the newer incarnation fences the
//! older) or under a new one (the older's sagas pass to whoever claims them).

use rand::Rng;
use rand::rngs::StdRng;

use super::{Action, NodeId, Schedule, Succession, Timed, gap};

/// Successions of one replica at random gaps around the schedule's interval; none for a
/// lone orchestrator, a replica the schedule does not stop, or a zero interval.
pub(super) fn successions(rng: &mut StdRng, node: NodeId, s: &Schedule, out: &mut Vec<Timed>) {
    let stopped = s.killed_replicas.is_empty() || s.killed_replicas.contains(&node.replica);
    if node.replica == 0 || !stopped || s.overlap_interval.is_zero() {
        return;
    }
    let mut at = gap(rng, s.overlap_interval);
    while at < s.duration {
        let succession = match rng.random_bool(0.5) {
            true => Succession::SameId,
            false => Succession::NewId,
        };
        out.push(Timed {
            at,
            action: Action::Succeed(node, succession),
        });
        at += gap(rng, s.overlap_interval);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::chaos::plan::Plan;

    fn schedule(replicas: u32, killed: Vec<u32>) -> Schedule {
        Schedule {
            replicas,
            killed_replicas: killed,
            overlap_interval: Duration::from_secs(2),
            ..Schedule::quiet(Duration::from_secs(60))
        }
    }

    fn successions(plan: &Plan) -> Vec<(NodeId, Succession)> {
        plan.actions
            .iter()
            .filter_map(|t| match t.action {
                Action::Succeed(node, succession) => Some((node, succession)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_stopped_replica_is_succeeded_under_both_kinds_of_id() {
        let plan = Plan::generate(7, &schedule(3, vec![1, 3]));
        let seen = successions(&plan);
        for replica in [1, 3] {
            for kind in [Succession::SameId, Succession::NewId] {
                assert!(
                    seen.iter().any(|(n, k)| n.replica == replica && *k == kind),
                    "replica {replica} never succeeded as {kind:?}: {seen:?}"
                );
            }
        }
        assert!(seen.iter().all(|(n, _)| n.replica != 2), "{seen:?}");
    }

    #[test]
    fn a_lone_orchestrator_or_a_zero_interval_has_none() {
        assert!(successions(&Plan::generate(7, &schedule(1, vec![]))).is_empty());
        let off = Schedule {
            overlap_interval: Duration::ZERO,
            ..schedule(3, vec![])
        };
        assert!(successions(&Plan::generate(7, &off)).is_empty());
    }
}
