//! Which orchestrator drove which saga, as their logs tell it: every replica logs `saga
//! accepted` and `saga moved` (one per committed transition) with the saga's id, `saga
//! changed by another writer` when a write of its was fenced, `resuming unfinished sagas
//! count=N` after a claim, and `saga still ours` when it took a saga back. Merged in time
//! order, they show how often a saga passed from one replica to another (a takeover).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// What one orchestrator did, from its log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplicaFigures {
    /// Sagas it accepted (PlaceOrder with a new key).
    pub accepted: u64,
    /// Transitions it committed.
    pub transitions: u64,
    /// Unfinished sagas it claimed (its own after a restart, or others' after their lease).
    pub claimed: u64,
    /// Writes the database refused because another writer had moved the saga on (a
    /// claim bumped its version): a fenced stale owner.
    pub fenced: u64,
    /// Fenced sagas it found still its own (its commit had gone through) and resumed.
    pub taken_back: u64,
    /// Saga-log writes, renewals and claims that failed and were retried (e.g. a cut
    /// database connection).
    pub store_retries: u64,
}

/// Ownership over a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OwnershipFigures {
    /// Per orchestrator, by name.
    pub by_replica: BTreeMap<String, ReplicaFigures>,
    /// Sagas that more than one replica accepted or moved on.
    pub sagas_taken_over: u64,
    /// Handovers: in time order, a saga's transition committed by another replica than
    /// the one that accepted or last moved it.
    pub takeovers: u64,
}

/// One line about a saga: when, which replica.
struct Touch<'a> {
    at: &'a str,
    replica: &'a str,
    saga: &'a str,
}

/// Reads the figures from each orchestrator's log, given as (name, text).
pub fn ownership(logs: &[(String, String)]) -> OwnershipFigures {
    let mut figures = OwnershipFigures::default();
    let mut touches = Vec::new();
    for (name, text) in logs {
        let mine = figures.by_replica.entry(name.clone()).or_default();
        for line in text.lines() {
            let saga = saga_id(line);
            if line.contains("saga accepted") {
                mine.accepted += 1;
            } else if line.contains("saga moved") {
                mine.transitions += 1;
            } else if line.contains("saga changed by another writer") {
                mine.fenced += 1;
                continue;
            } else if line.contains("saga still ours") {
                mine.taken_back += 1;
                continue;
            } else {
                count_other(line, mine);
                continue;
            }
            if let (Some(at), Some(saga)) = (line.split_whitespace().next(), saga) {
                touches.push(Touch {
                    at,
                    replica: name,
                    saga,
                });
            }
        }
    }
    // RFC 3339 stamps in UTC with a fixed width sort as text.
    touches.sort_by(|a, b| a.at.cmp(b.at));
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    let mut moved_on: BTreeSet<&str> = BTreeSet::new();
    for touch in &touches {
        if let Some(previous) = last.insert(touch.saga, touch.replica)
            && previous != touch.replica
        {
            figures.takeovers += 1;
            moved_on.insert(touch.saga);
        }
    }
    figures.sagas_taken_over = moved_on.len() as u64;
    figures
}

fn count_other(line: &str, mine: &mut ReplicaFigures) {
    if line.contains("resuming unfinished sagas") {
        mine.claimed += field(line, "count=").unwrap_or(0);
    } else if line.contains("saga log write failed")
        || line.contains("cannot renew leases")
        || line.contains("cannot claim expired sagas")
    {
        mine.store_retries += 1;
    }
}

/// The saga id a line names (`saga_id=…`), if any.
fn saga_id(line: &str) -> Option<&str> {
    let at = line.find("saga_id=")? + "saga_id=".len();
    let rest = &line[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The number after `name` in a line.
fn field(line: &str, name: &str) -> Option<u64> {
    let at = line.find(name)? + name.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "\
2026-01-01T00:00:00.000001Z  INFO orchestrator::engine: saga accepted saga_id=0190-aa idempotency_key=k1
2026-01-01T00:00:00.000002Z  INFO apply{saga_id=0190-aa event=OrderCreated}: orchestrator::engine::driver: saga moved state=x status=RUNNING
2026-01-01T00:00:03.000000Z  WARN apply{saga_id=0190-aa event=InvoiceIssued}: orchestrator::engine::driver: saga changed by another writer; no longer driving it
2026-01-01T00:00:03.100000Z  WARN orchestrator::engine::ownership: cannot renew leases; other replicas may take sagas over error=x";
    const B: &str = "\
2026-01-01T00:00:02.000000Z  INFO orchestrator::engine::ownership: resuming unfinished sagas count=2
2026-01-01T00:00:02.000100Z  INFO apply{saga_id=0190-aa event=Resumed}: orchestrator::engine::driver: saga moved state=y status=RUNNING
2026-01-01T00:00:02.000200Z  INFO apply{saga_id=0190-bb event=Resumed}: orchestrator::engine::driver: saga moved state=y status=RUNNING";

    #[test]
    fn counts_what_each_replica_did_and_the_handovers() {
        let figures = ownership(&[("a".into(), A.into()), ("b".into(), B.into())]);
        assert_eq!(
            figures,
            OwnershipFigures {
                by_replica: BTreeMap::from([
                    (
                        "a".to_string(),
                        ReplicaFigures {
                            accepted: 1,
                            transitions: 1,
                            fenced: 1,
                            store_retries: 1,
                            ..ReplicaFigures::default()
                        }
                    ),
                    (
                        "b".to_string(),
                        ReplicaFigures {
                            transitions: 2,
                            claimed: 2,
                            ..ReplicaFigures::default()
                        }
                    ),
                ]),
                sagas_taken_over: 1,
                takeovers: 1,
            }
        );
    }
}
