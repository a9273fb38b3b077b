//! What a saga keeps of each step's answer: the fields its templates read. The rest
//! stays in the participant's own records; the saga's state, written at every
//! transition, stays small however large the answers are.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::model::Definition;
use crate::path::Segment;

/// Per step, the top-level fields of its answer that some template reads (`None`: the
/// whole answer is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptFields {
    steps: Vec<Option<BTreeSet<String>>>,
}

impl KeptFields {
    /// What the templates of `definition` (every request and the output) read.
    pub fn of(definition: &Definition) -> Self {
        let mut steps: Vec<Option<BTreeSet<String>>> =
            vec![Some(BTreeSet::new()); definition.steps.len()];
        let templates = definition
            .steps
            .iter()
            .flat_map(|s| std::iter::once(&s.action).chain(&s.compensation))
            .map(|call| &call.input)
            .chain(&definition.output);
        for template in templates {
            for (_, path) in template.paths() {
                let Some(index) = path
                    .step()
                    .and_then(|name| definition.steps.iter().position(|s| s.name == name))
                else {
                    continue;
                };
                match path.segments.first() {
                    Some(Segment::Field(field)) => {
                        if let Some(fields) = &mut steps[index] {
                            fields.insert(field.clone());
                        }
                    }
                    _ => steps[index] = None,
                }
            }
        }
        Self { steps }
    }

    /// The top-level fields of step `step`'s answer the saga keeps; `None`: all of it.
    pub fn fields(&self, step: usize) -> Option<&BTreeSet<String>> {
        self.steps.get(step).and_then(Option::as_ref)
    }

    /// The part of step `step`'s answer the saga keeps.
    pub fn keep(&self, step: usize, answer: Value) -> Value {
        let Some(Some(fields)) = self.steps.get(step) else {
            return answer;
        };
        let Value::Object(mut all) = answer else {
            return answer;
        };
        let kept: Map<String, Value> = fields
            .iter()
            .filter_map(|f| all.remove_entry(f.as_str()))
            .collect();
        Value::Object(kept)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::file;

    #[test]
    fn a_step_keeps_the_fields_later_templates_and_the_output_read() {
        let proto = file::from_json(include_str!("../../definitions/place-order.json"))
            .expect("place-order.json");
        let pool = prost_reflect::DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET)
            .expect("contracts");
        let checked = crate::check(&proto, &pool).expect("checks");
        let kept = KeptFields::of(&checked.definition);
        let order = json!({"order_id": "o", "total_cents": "5", "items": [1, 2], "status": "X"});
        assert_eq!(
            kept.keep(0, order),
            json!({"order_id": "o", "total_cents": "5"})
        );
        assert_eq!(
            kept.keep(1, json!({"invoice_id": "i", "amount_cents": "5"})),
            json!({"invoice_id": "i"})
        );
        assert_eq!(kept.keep(2, json!({"order_id": "o"})), json!({}));
    }
}
