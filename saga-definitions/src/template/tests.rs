use serde_json::{Value, json};

use super::*;

struct Given {
    input: Value,
    outputs: Vec<(&'static str, Value)>,
}

impl Scope for Given {
    fn saga_id(&self) -> &str {
        "s-1"
    }
    fn idempotency_key(&self) -> &str {
        "k-1"
    }
    fn input(&self) -> &Value {
        &self.input
    }
    fn step_output(&self, step: &str) -> Option<&Value> {
        self.outputs
            .iter()
            .find(|(s, _)| *s == step)
            .map(|(_, v)| v)
    }
}

fn given() -> Given {
    Given {
        input: json!({"customer_id": "c-9", "items": [{"sku": "A", "quantity": 2}]}),
        outputs: vec![
            (
                "create_order",
                json!({"order_id": "o-7", "total_cents": "750"}),
            ),
            ("lost", Value::Null),
        ],
    }
}

fn render(template: &str) -> Result<Value, RenderError> {
    Node::parse(template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .render(&given())
}

#[test]
fn exact_paths_keep_their_json_type_and_text_is_interpolated() {
    let rendered = render(
        r#"{"saga_id": "${saga.id}", "key": "${saga.idempotency_key}",
            "items": "${input.items}", "first": "${input.items[0].quantity}",
            "order_id": "${steps.create_order.output.order_id}",
            "note": "order ${steps.create_order.output.order_id} of ${input.customer_id}: ${input.items[0].quantity}",
            "fixed": [1, true, null, "plain"]}"#,
    );
    assert_eq!(
        rendered,
        Ok(json!({
            "saga_id": "s-1", "key": "k-1",
            "items": [{"sku": "A", "quantity": 2}], "first": 2,
            "order_id": "o-7",
            "note": "order o-7 of c-9: 2",
            "fixed": [1, true, null, "plain"]
        }))
    );
}

#[test]
fn an_unknown_outcome_and_an_absent_output_field_yield_null() {
    assert_eq!(
        render(
            r#"{"a": "${steps.lost.output.id}", "b": "${steps.create_order.output.nope}", "c": "x${steps.lost.output.id}"}"#
        ),
        Ok(json!({"a": null, "b": null, "c": "x"}))
    );
}

#[test]
fn a_missing_input_or_a_step_not_run_is_an_error_naming_the_path() {
    assert_eq!(
        render(r#"{"a": "${input.currency}"}"#),
        Err(RenderError::Missing {
            path: "input.currency".into()
        })
    );
    assert_eq!(
        render(r#"{"a": "${steps.later.output.x}"}"#),
        Err(RenderError::NotRun {
            path: "steps.later.output.x".into(),
            step: "later".into()
        })
    );
}

#[test]
fn paths_are_found_with_their_locations() {
    let node = Node::parse(r#"{"a": {"b": ["${input.x}", "n ${saga.id} ${input.y}"]}}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let found: Vec<(String, String)> = node
        .paths()
        .into_iter()
        .map(|(at, p)| (at, p.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            ("a.b[0]".to_string(), "input.x".to_string()),
            ("a.b[1]".to_string(), "saga.id".to_string()),
            ("a.b[1]".to_string(), "input.y".to_string()),
        ]
    );
}

#[test]
fn bad_templates_say_where() {
    assert!(matches!(Node::parse("{"), Err(TemplateError::Json(_))));
    assert_eq!(
        Node::parse(r#"{"a": {"b": "${input.x"}}"#),
        Err(TemplateError::Unclosed { at: "a.b".into() })
    );
    assert!(matches!(
        Node::parse(r#"{"a": ["${order.id}"]}"#),
        Err(TemplateError::Path { at, .. }) if at == "a[0]"
    ));
}
