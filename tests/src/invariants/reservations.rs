//! The inventory participant's side of the four-step definition: a completed saga holds
//! its stock, a compensated one does not, and no reservation belongs to anything else.

use std::collections::{BTreeMap, BTreeSet};

use saga_contracts::saga::v1::{Saga, SagaStatus};

/// A reservation's status as the participant stores it.
pub const HELD: &str = "HELD";

/// Every way the reservations (saga id → status) disagree with the sagas of
/// `definition`, as sentences.
pub fn reservation_violations(
    sagas: &[Saga],
    definition: &str,
    reservations: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut found = Vec::new();
    let mine: BTreeSet<&str> = sagas
        .iter()
        .filter(|s| s.definition == definition)
        .map(|s| s.saga_id.as_str())
        .collect();
    for saga in sagas.iter().filter(|s| s.definition == definition) {
        let id = &saga.saga_id;
        let status = reservations.get(id).map(String::as_str);
        match saga.status() {
            SagaStatus::Completed if status != Some(HELD) => found.push(format!(
                "saga {id} COMPLETED but its stock is {}",
                status.unwrap_or("not reserved")
            )),
            SagaStatus::Compensated if status == Some(HELD) => {
                found.push(format!("saga {id} COMPENSATED but its stock is still HELD"))
            }
            _ => {}
        }
    }
    for saga_id in reservations.keys() {
        if !mine.contains(saga_id.as_str()) {
            found.push(format!(
                "a reservation belongs to {saga_id}, no saga of {definition}"
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saga(id: &str, definition: &str, status: SagaStatus) -> Saga {
        Saga {
            saga_id: id.into(),
            definition: definition.into(),
            status: status as i32,
            ..Saga::default()
        }
    }

    fn held(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn completed_sagas_hold_stock_and_compensated_ones_do_not() {
        let sagas = [
            saga("a", "stock", SagaStatus::Completed),
            saga("b", "stock", SagaStatus::Compensated),
            saga("c", "stock", SagaStatus::Compensated),
            saga("d", "other", SagaStatus::Completed),
        ];
        let good = held(&[("a", "HELD"), ("b", "RELEASED")]);
        assert_eq!(
            reservation_violations(&sagas, "stock", &good),
            Vec::<String>::new()
        );
        let bad = held(&[("b", "HELD"), ("d", "HELD"), ("z", "RELEASED")]);
        let found = reservation_violations(&sagas, "stock", &bad);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].contains("saga a COMPLETED but its stock is not reserved"));
        assert!(found[1].contains("saga b COMPENSATED"));
        assert!(found[2].contains("belongs to d"));
        assert!(found[3].contains("belongs to z"));
    }
}
