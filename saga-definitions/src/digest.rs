//! The canonical body of a definition and its digest: the same definition written any
//! way (keys in another order, other spacing, kinds left implicit, empty retry
//! policies) has the same body, so registering it again finds the existing version.

use saga_contracts::saga::v1 as pb;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The definition with each template written as compact JSON with sorted keys, each
/// kind explicit, and retry policies that set nothing left out. Templates that are not
/// JSON are kept as given (such a definition does not pass [`crate::check`]).
pub fn canonical(definition: &pb::SagaDefinition) -> pb::SagaDefinition {
    pb::SagaDefinition {
        name: definition.name.clone(),
        description: definition.description.clone(),
        steps: definition.steps.iter().map(canonical_step).collect(),
        output_template: canonical_template(&definition.output_template),
    }
}

/// Hex SHA-256 of the canonical body's protobuf encoding (deterministic: no maps).
pub fn digest(definition: &pb::SagaDefinition) -> String {
    use prost::Message;
    digest_of_body(&canonical(definition).encode_to_vec())
}

/// [`digest`] of a canonical body already encoded.
pub fn digest_of_body(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn canonical_step(step: &pb::Step) -> pb::Step {
    let kind = match step.kind() {
        pb::StepKind::Unspecified if step.compensation.is_empty() => pb::StepKind::Pivot,
        pb::StepKind::Unspecified => pb::StepKind::Compensatable,
        kind => kind,
    };
    let retry = step.retry.filter(|r| *r != pb::RetryPolicy::default());
    pb::Step {
        name: step.name.clone(),
        action: step.action.clone(),
        action_input: canonical_template(&step.action_input),
        compensation: step.compensation.clone(),
        compensation_input: canonical_template(&step.compensation_input),
        kind: kind.into(),
        retry,
    }
}

fn canonical_template(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            let mut out = String::new();
            write_sorted(&value, &mut out);
            out
        }
        Err(_) => text.to_string(),
    }
}

/// Compact JSON with object keys sorted, whatever order the map keeps them in.
fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_sorted(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(action_input: &str, kind: pb::StepKind) -> pb::SagaDefinition {
        pb::SagaDefinition {
            name: "d".into(),
            description: String::new(),
            steps: vec![pb::Step {
                name: "s".into(),
                action: "orders.v1.Orders/ConfirmOrder".into(),
                action_input: action_input.into(),
                kind: kind.into(),
                retry: Some(pb::RetryPolicy::default()),
                ..pb::Step::default()
            }],
            output_template: String::new(),
        }
    }

    #[test]
    fn the_same_definition_written_another_way_has_the_same_digest() {
        let one = definition(
            r#"{"saga_id": "${saga.id}", "order_id": "x"}"#,
            pb::StepKind::Unspecified,
        );
        let other = definition(
            "{\"order_id\":\"x\",\n \"saga_id\":\"${saga.id}\"}",
            pb::StepKind::Pivot,
        );
        assert_eq!(digest(&one), digest(&other));
        assert_eq!(
            canonical(&one).steps[0].action_input,
            r#"{"order_id":"x","saga_id":"${saga.id}"}"#
        );
        assert_eq!(canonical(&one).steps[0].retry, None);
        assert_eq!(digest(&one).len(), 64);
    }

    #[test]
    fn a_changed_body_has_another_digest() {
        let one = definition(r#"{"order_id": "x"}"#, pb::StepKind::Pivot);
        let other = definition(r#"{"order_id": "y"}"#, pb::StepKind::Pivot);
        let retriable = definition(r#"{"order_id": "x"}"#, pb::StepKind::Retriable);
        assert_ne!(digest(&one), digest(&other));
        assert_ne!(digest(&one), digest(&retriable));
    }
}
