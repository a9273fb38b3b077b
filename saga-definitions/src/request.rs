//! From templates to protobuf messages and back: a call's request is its template
//! rendered and read as the method's input message (proto3 JSON); an answer is kept as
//! JSON with proto field names and every field present, so that paths into it read
//! defaults as values.

use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;

use crate::template::{Node, RenderError, Scope};

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The rendered JSON does not read as the message (a value of the wrong type that
    /// the check could not see, such as input given at run time).
    #[error("not a {message}: {reason}")]
    Shape { message: String, reason: String },
}

/// The request of `template` for a method whose input is `message`.
pub fn build(
    template: &Node,
    message: &MessageDescriptor,
    scope: &dyn Scope,
) -> Result<DynamicMessage, RequestError> {
    let json = template.render(scope)?;
    DynamicMessage::deserialize(message.clone(), json).map_err(|e| RequestError::Shape {
        message: message.full_name().to_string(),
        reason: e.to_string(),
    })
}

/// An answer as the saga keeps it: proto field names, defaults included, 64-bit
/// integers as strings (proto3 JSON).
pub fn output_json(answer: &DynamicMessage) -> Value {
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false);
    answer
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    use super::*;

    struct Given(Value, Value);

    impl Scope for Given {
        fn saga_id(&self) -> &str {
            "s-1"
        }
        fn idempotency_key(&self) -> &str {
            "k"
        }
        fn input(&self) -> &Value {
            &self.0
        }
        fn step_output(&self, step: &str) -> Option<&Value> {
            (step == "create_order").then_some(&self.1)
        }
    }

    fn message(name: &str) -> MessageDescriptor {
        DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET)
            .expect("contracts")
            .get_message_by_name(name)
            .expect("known message")
    }

    #[test]
    fn a_template_becomes_the_request_and_an_answer_its_json() {
        let template = Node::parse(
            r#"{"saga_id": "${saga.id}", "order_id": "${steps.create_order.output.order_id}",
                "customer_id": "${input.customer_id}", "amount_cents": "${steps.create_order.output.total_cents}",
                "currency": "EUR"}"#,
        )
        .expect("template");
        let scope = Given(
            json!({"customer_id": "c"}),
            json!({"order_id": "o-1", "total_cents": "750"}),
        );
        let request = build(
            &template,
            &message("invoices.v1.CreateInvoiceRequest"),
            &scope,
        )
        .expect("a request");
        assert_eq!(
            output_json(&request),
            json!({"saga_id": "s-1", "order_id": "o-1", "customer_id": "c",
                   "amount_cents": "750", "currency": "EUR"})
        );
        let empty = DynamicMessage::new(message("orders.v1.Order"));
        let answer = output_json(&empty);
        assert_eq!(answer["order_id"], json!(""));
        assert_eq!(answer["total_cents"], json!("0"));
        assert_eq!(answer["status"], json!("ORDER_STATUS_UNSPECIFIED"));
    }

    #[test]
    fn an_input_of_the_wrong_type_is_a_shape_error() {
        let template = Node::parse(r#"{"amount_cents": "${input.amount}"}"#).expect("template");
        let scope = Given(json!({"amount": "lots"}), Value::Null);
        let built = build(
            &template,
            &message("invoices.v1.CreateInvoiceRequest"),
            &scope,
        );
        assert!(
            matches!(built, Err(RequestError::Shape { .. })),
            "{built:?}"
        );
    }
}
