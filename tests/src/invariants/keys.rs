//! No lost and no duplicate saga, from the client's side: every idempotency key a client
//! sent (answered or not) has exactly one saga, the one it was answered with, for the
//! order it asked for; and no saga appears that nobody asked for.

use std::collections::{BTreeMap, BTreeSet};

use saga_contracts::saga::v1::{Saga, SagaStatus};

/// What a client knows about one idempotency key it sent to PlaceOrder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub key: String,
    /// Every saga id a PlaceOrder for this key was answered with (empty: never
    /// answered, e.g. sent just before the orchestrator was killed).
    pub answered: BTreeSet<String>,
    /// The order total the key asked for.
    pub total_cents: i64,
    /// Over the invoice limit: the saga cannot complete and must compensate.
    pub over_limit: bool,
    /// Its reservation is refused: the saga cannot complete and must compensate.
    pub refused: bool,
}

/// Every way the sagas disagree with what the client placed, as sentences.
pub fn placement_violations(placements: &[Placement], sagas: &[Saga]) -> Vec<String> {
    let mut found = Vec::new();
    let mut by_key: BTreeMap<&str, Vec<&Saga>> = BTreeMap::new();
    for saga in sagas {
        by_key
            .entry(saga.idempotency_key.as_str())
            .or_default()
            .push(saga);
    }
    let sent: BTreeSet<&str> = placements.iter().map(|p| p.key.as_str()).collect();
    for placement in placements {
        let key = &placement.key;
        let ids: Vec<&str> = by_key
            .get(key.as_str())
            .map(|sagas| sagas.iter().map(|s| s.saga_id.as_str()).collect())
            .unwrap_or_default();
        if placement.answered.len() > 1 {
            found.push(format!(
                "key {key:?} was answered with {} different sagas: {:?}",
                placement.answered.len(),
                placement.answered
            ));
        }
        let [saga_id] = ids.as_slice() else {
            match ids.len() {
                0 if placement.answered.is_empty() => found.push(format!(
                    "key {key:?} was sent but no saga holds it (lost before or after acceptance)"
                )),
                0 => found.push(format!(
                    "key {key:?} was answered with saga {:?} but no saga holds it: lost",
                    placement.answered
                )),
                n => found.push(format!("key {key:?} has {n} sagas: {ids:?}")),
            }
            continue;
        };
        if let Some(other) = placement.answered.iter().find(|a| a != saga_id) {
            found.push(format!(
                "key {key:?} was answered with saga {other} but the log holds saga {saga_id}"
            ));
        }
        let Some(saga) = by_key.get(key.as_str()).and_then(|s| s.first()) else {
            continue;
        };
        if saga.total_cents != placement.total_cents {
            found.push(format!(
                "saga {saga_id} of key {key:?} totals {} cents, the client asked for {}",
                saga.total_cents, placement.total_cents
            ));
        }
        if placement.over_limit && saga.status() == SagaStatus::Completed {
            found.push(format!(
                "saga {saga_id} of key {key:?} is over the invoice limit but COMPLETED"
            ));
        }
        if placement.refused && saga.status() == SagaStatus::Completed {
            found.push(format!(
                "saga {saga_id} of key {key:?} asked for more stock than may be reserved but COMPLETED"
            ));
        }
    }
    for (key, sagas) in &by_key {
        if !sent.contains(key) {
            let ids: Vec<&str> = sagas.iter().map(|s| s.saga_id.as_str()).collect();
            found.push(format!(
                "sagas {ids:?} hold key {key:?}, which was never sent"
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(key: &str, answered: &[&str], over_limit: bool) -> Placement {
        Placement {
            key: key.into(),
            answered: answered.iter().map(|a| a.to_string()).collect(),
            total_cents: 500,
            over_limit,
            refused: false,
        }
    }

    fn saga(id: &str, key: &str, status: SagaStatus) -> Saga {
        Saga {
            saga_id: id.into(),
            idempotency_key: key.into(),
            status: status.into(),
            total_cents: 500,
            ..Default::default()
        }
    }

    fn consistent() -> (Vec<Placement>, Vec<Saga>) {
        (
            vec![placement("k1", &["s1"], false), placement("k2", &[], true)],
            vec![
                saga("s1", "k1", SagaStatus::Completed),
                saga("s2", "k2", SagaStatus::Compensated),
            ],
        )
    }

    #[test]
    fn one_saga_per_sent_key_is_consistent() {
        let (placements, sagas) = consistent();
        assert_eq!(
            placement_violations(&placements, &sagas),
            Vec::<String>::new()
        );
    }

    #[test]
    fn lost_duplicated_foreign_and_wrong_sagas_are_reported() {
        type Breakage = fn(&mut Vec<Placement>, &mut Vec<Saga>);
        let cases: Vec<(&str, Breakage, &str)> = vec![
            ("lost answered", |_, s| drop(s.remove(0)), "lost"),
            (
                "lost unanswered",
                |_, s| drop(s.remove(1)),
                "no saga holds it",
            ),
            (
                "duplicate",
                |_, s| s.push(saga("s3", "k1", SagaStatus::Completed)),
                "has 2 sagas",
            ),
            (
                "foreign",
                |_, s| s.push(saga("s3", "k9", SagaStatus::Completed)),
                "never sent",
            ),
            (
                "other id",
                |p, _| p[0].answered = ["s9".to_string()].into(),
                "answered with saga s9",
            ),
            (
                "two answers",
                |p, _| {
                    p[0].answered.insert("s9".into());
                },
                "2 different sagas",
            ),
            ("total", |_, s| s[0].total_cents = 7, "totals 7 cents"),
            (
                "over the limit but completed",
                |_, s| s[1].status = SagaStatus::Completed.into(),
                "over the invoice limit",
            ),
        ];
        for (name, breakage, expected) in cases {
            let (mut placements, mut sagas) = consistent();
            breakage(&mut placements, &mut sagas);
            let found = placement_violations(&placements, &sagas);
            assert!(
                found.iter().any(|f| f.contains(expected)),
                "{name}: expected {expected:?} in {found:?}"
            );
        }
    }
}
