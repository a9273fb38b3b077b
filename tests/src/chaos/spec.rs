//! Random `--faults` specs for the participants (the syntax of
//! `service_kit::faults`): each generation of a process draws its own from the
//! campaign's fault seed, so faults change at every restart and a seed replays them.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::plan::derive;
use crate::binaries::Binary;

/// The mutating RPCs of each participant: the ones that may be faulted (reads never
/// are, so the checker's view is faithful).
pub fn rpcs(binary: Binary) -> &'static [&'static str] {
    match binary {
        Binary::OrdersSvc => &["CreateOrder", "ConfirmOrder", "CancelOrder"],
        Binary::InvoicesSvc => &["CreateInvoice", "VoidInvoice"],
        Binary::InventorySvc => &["Reserve", "Release"],
        Binary::Orchestrator => &[],
    }
}

/// The orders participant's mutating RPCs of the direct patterns (orders placed at
/// orders-svc and invoiced by sagas the orchestrator starts for them).
pub const DIRECT_RPCS: [&str; 5] = [
    "PlaceOrder",
    "UpdateOrder",
    "WithdrawOrder",
    "BeginInvoicing",
    "RejectOrder",
];
/// The outbox relay's pseudo-method (`orders-svc --nats-url`): each event published.
pub const RELAY_PUBLISH: &str = "RelayPublish";
/// Mixed into a generation's seed for its direct-pattern rules ("direct").
const DIRECT_SEED: u64 = u64::from_le_bytes(*b"direct\0\0");

/// The fault kinds, as the spec spells them (without the delay's milliseconds).
pub const KINDS: [&str; 5] = ["unavailable", "ambiguous", "delay", "crash", "duplicate"];

/// One generation's faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    /// The `--faults` value (empty: none).
    pub spec: String,
    /// The `--fault-seed` value.
    pub seed: u64,
}

impl FaultSpec {
    /// No faults (the calm phase).
    pub fn none() -> Self {
        Self {
            spec: String::new(),
            seed: 0,
        }
    }

    /// How many rules of each kind the spec holds.
    pub fn rules_by_kind(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for rule in self.spec.split(',').filter(|r| !r.is_empty()) {
            let kind = rule.split(':').nth(1).unwrap_or_default();
            if let Some(known) = KINDS.iter().find(|k| kind.starts_with(**k)) {
                *counts.entry(*known).or_default() += 1;
            }
        }
        counts
    }
}

/// The faults of generation `generation` of `binary`, scaled by `intensity` (1.0: the
/// modest default; 0: none), with the rules of the direct patterns for orders-svc when
/// `direct` (drawn after the rest from a seed of their own, so the other rules are those
/// of a campaign without them). The same arguments always give the same spec.
pub fn draw(root: u64, binary: Binary, generation: u64, intensity: f64, direct: bool) -> FaultSpec {
    let seed = derive(root, &[binary as u64, generation]);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rules = Vec::new();
    for rpc in rpcs(binary) {
        rpc_rules(&mut rng, rpc, intensity, &mut rules);
    }
    if direct && binary == Binary::OrdersSvc && intensity > 0.0 {
        let mut rng = StdRng::seed_from_u64(derive(seed, &[DIRECT_SEED]));
        for rpc in DIRECT_RPCS {
            rpc_rules(&mut rng, rpc, intensity, &mut rules);
        }
        // Every generation's relay publishes some events twice, which only the
        // consumer's keys can tell apart (the one fault a broker cannot absorb), and
        // may die between a publish and its mark.
        let duplicates = (rng.random_range(0.02..0.1) * intensity).clamp(0.0, 1.0);
        rules.push(format!("{RELAY_PUBLISH}:duplicate:{duplicates:.4}"));
        let crash = (rng.random_range(0.003..0.01) * intensity).clamp(0.0, 1.0);
        rules.push(format!("{RELAY_PUBLISH}:crash:{crash:.4}"));
        rpc_rules(&mut rng, RELAY_PUBLISH, intensity, &mut rules);
    }
    FaultSpec {
        spec: rules.join(","),
        seed,
    }
}

/// Up to two rules for `rpc` (none at zero intensity).
fn rpc_rules(rng: &mut StdRng, rpc: &str, intensity: f64, rules: &mut Vec<String>) {
    if intensity <= 0.0 || !rng.random_bool(0.8) {
        return;
    }
    let count = rng.random_range(1..=2);
    for _ in 0..count {
        let (kind, probability) = match rng.random_range(0..10) {
            0..=2 => ("unavailable".to_string(), rng.random_range(0.02..0.15)),
            3..=5 => ("ambiguous".to_string(), rng.random_range(0.02..0.15)),
            6..=8 => (
                format!("delay={}", rng.random_range(5..400)),
                rng.random_range(0.05..0.3),
            ),
            _ => ("crash".to_string(), rng.random_range(0.002..0.01)),
        };
        let probability = (probability * intensity).clamp(0.0, 1.0);
        rules.push(format!("{rpc}:{kind}:{probability:.4}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_always_draws_the_same_spec_and_the_next_one_another() {
        let first = draw(5, Binary::OrdersSvc, 0, 1.0, false);
        assert_eq!(first, draw(5, Binary::OrdersSvc, 0, 1.0, false));
        let others: Vec<FaultSpec> = (1..4)
            .map(|g| draw(5, Binary::OrdersSvc, g, 1.0, false))
            .collect();
        assert!(others.iter().all(|o| *o != first), "{first:?} {others:?}");
    }

    #[test]
    fn specs_name_only_the_participants_mutating_rpcs_with_every_kind_over_time() {
        let mut kinds = BTreeMap::new();
        for binary in [Binary::OrdersSvc, Binary::InvoicesSvc, Binary::InventorySvc] {
            for generation in 0..40 {
                let spec = draw(9, binary, generation, 1.0, true);
                let plain = draw(9, binary, generation, 1.0, false);
                assert!(spec.spec.starts_with(&plain.spec), "{spec:?} {plain:?}");
                for rule in spec.spec.split(',').filter(|r| !r.is_empty()) {
                    let method = rule.split(':').next().unwrap_or_default();
                    let direct = binary == Binary::OrdersSvc
                        && (DIRECT_RPCS.contains(&method) || method == RELAY_PUBLISH);
                    assert!(rpcs(binary).contains(&method) || direct, "{rule}");
                    assert!(
                        !rule.contains("duplicate") || method == RELAY_PUBLISH,
                        "{rule}"
                    );
                }
                for (kind, n) in spec.rules_by_kind() {
                    *kinds.entry(kind).or_insert(0) += n;
                }
            }
        }
        assert_eq!(kinds.keys().copied().collect::<Vec<_>>(), {
            let mut all = KINDS.to_vec();
            all.sort();
            all
        });
    }

    #[test]
    fn zero_intensity_injects_nothing() {
        assert_eq!(draw(5, Binary::InvoicesSvc, 3, 0.0, true).spec, "");
        assert_eq!(FaultSpec::none().rules_by_kind(), BTreeMap::new());
    }

    #[test]
    fn counts_rules_by_kind() {
        let spec = FaultSpec {
            spec: "A:unavailable:0.1,A:delay=30:0.2,B:delay=5:0.1,B:crash:0.01".into(),
            seed: 0,
        };
        let counts: Vec<(&str, u64)> = spec.rules_by_kind().into_iter().collect();
        assert_eq!(counts, vec![("crash", 1), ("delay", 2), ("unavailable", 1)]);
    }
}
