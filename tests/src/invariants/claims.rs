//! No saga taken from a live replica, as a saga's log shows it. Every CLAIMED record says
//! from whom the saga was taken, how long the previous lease had been over and how old
//! the previous owner's heartbeat was (`claimed by B from A: lease over N ms, heartbeat M
//! ms old, fresh under F ms`, or `heartbeat none`). Outside a replica's start, a claim
//! must come after the lease ended, and one that takes another replica's saga must find
//! that replica's heartbeat stale: a live replica claims its own sagas itself.

use saga_contracts::saga::v1::{Saga, StepOutcome};

/// What a CLAIMED record says of the claim.
#[derive(Debug, PartialEq, Eq)]
struct ClaimSeen<'a> {
    by: &'a str,
    from: &'a str,
    at_start: bool,
    lease_over_ms: i64,
    /// The heartbeat's age and the age under which it was fresh; `None`: no heartbeat.
    heartbeat: Option<(i64, i64)>,
}

/// Every claim of `saga` that took it from a live replica or before its lease ended.
pub fn claim_violations(saga: &Saga) -> Vec<String> {
    let id = &saga.saga_id;
    saga.log
        .iter()
        .filter(|e| e.outcome() == StepOutcome::Claimed)
        .filter_map(|entry| {
            let Some(claim) = parse(&entry.detail) else {
                return Some(format!(
                    "saga {id} record {} is a claim that does not say from whom: {:?}",
                    entry.seq, entry.detail
                ));
            };
            let why = if claim.at_start {
                None
            } else if claim.lease_over_ms <= 0 {
                Some(format!(
                    "{} ms before its lease ended",
                    -claim.lease_over_ms
                ))
            } else {
                match claim.heartbeat {
                    Some((age, fresh)) if claim.from != claim.by && age < fresh => Some(format!(
                        "from {}, whose heartbeat was {age} ms old (fresh under {fresh} ms)",
                        claim.from
                    )),
                    _ => None,
                }
            };
            why.map(|why| {
                format!(
                    "saga {id} record {} was claimed by {} {why}",
                    entry.seq, claim.by
                )
            })
        })
        .collect()
}

fn parse(detail: &str) -> Option<ClaimSeen<'_>> {
    let rest = detail.strip_prefix("claimed by ")?;
    let (by, rest) = rest.split_once(" from ")?;
    let (head, facts) = rest.split_once(": lease over ")?;
    let (from, at_start) = match head.strip_suffix(" at its start") {
        Some(from) => (from, true),
        None => (
            head.strip_suffix(" (its key was retried)").unwrap_or(head),
            false,
        ),
    };
    let (lease_over, heartbeat) = facts.split_once(" ms, heartbeat ")?;
    let heartbeat = match heartbeat {
        "none" => None,
        seen => {
            let (age, fresh) = seen.split_once(" ms old, fresh under ")?;
            Some((age.parse().ok()?, fresh.strip_suffix(" ms")?.parse().ok()?))
        }
    };
    Some(ClaimSeen {
        by,
        from,
        at_start,
        lease_over_ms: lease_over.parse().ok()?,
        heartbeat,
    })
}

#[cfg(test)]
mod tests {
    use saga_contracts::saga::v1::SagaLogEntry;

    use super::*;

    fn saga(details: &[&str]) -> Saga {
        let log = (1..)
            .zip(details)
            .map(|(seq, detail)| SagaLogEntry {
                seq,
                outcome: StepOutcome::Claimed.into(),
                detail: (*detail).to_string(),
                ..Default::default()
            })
            .collect();
        Saga {
            saga_id: "s".into(),
            log,
            ..Default::default()
        }
    }

    #[test]
    fn claims_read_back_as_the_orchestrator_writes_them() {
        assert_eq!(
            parse(
                "claimed by b from a (its key was retried): lease over 12 ms, heartbeat 1600 ms old, fresh under 1500 ms"
            ),
            Some(ClaimSeen {
                by: "b",
                from: "a",
                at_start: false,
                lease_over_ms: 12,
                heartbeat: Some((1600, 1500)),
            })
        );
        assert_eq!(
            parse("claimed by b from a at its start: lease over -900 ms, heartbeat none")
                .map(|c| (c.at_start, c.heartbeat)),
            Some((true, None))
        );
    }

    #[test]
    fn a_claim_from_a_live_replica_or_before_the_lease_ended_is_a_violation() {
        let found = claim_violations(&saga(&[
            "claimed by b from a: lease over 5 ms, heartbeat 1600 ms old, fresh under 1500 ms",
            "claimed by a from a: lease over 5 ms, heartbeat 10 ms old, fresh under 1500 ms",
            "claimed by c from b at its start: lease over -50 ms, heartbeat 10 ms old, fresh under 1500 ms",
            "claimed by c from b: lease over 5 ms, heartbeat 10 ms old, fresh under 1500 ms",
            "claimed by b from c: lease over -5 ms, heartbeat none",
            "claimed by someone",
        ]));
        assert_eq!(
            found,
            vec![
                "saga s record 4 was claimed by c from b, whose heartbeat was 10 ms old (fresh under 1500 ms)",
                "saga s record 5 was claimed by b 5 ms before its lease ended",
                "saga s record 6 is a claim that does not say from whom: \"claimed by someone\"",
            ]
        );
    }
}
