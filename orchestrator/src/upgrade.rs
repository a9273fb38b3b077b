//! Reading saga rows written before sagas were data. Those releases ran one saga, the
//! built-in `place-order` (version 1), and stored its state as one variant per step;
//! such a state is read here as the generic machine's state over that definition, so
//! that sagas in flight across the upgrade finish on the new engine. The next commit of
//! each writes the generic form.

use saga_definitions::machine::{Effect, Position, Progress, SagaState};
use serde::Deserialize;
use serde_json::{Value, json};

/// A stored state, in the generic form or the one before definitions (whose saga
/// `input` was the validated order, with its total).
pub fn state_from_json(text: &str, input: &Value) -> Result<SagaState, serde_json::Error> {
    serde_json::from_str(text).or_else(|generic| match serde_json::from_str::<Legacy>(text) {
        Ok(legacy) => Ok(legacy.into_generic(&input["total_cents"])),
        Err(_) => Err(generic),
    })
}

/// The place-order saga's state as releases before definitions stored it. Its steps are
/// 0 (create the order), 1 (issue the invoice) and 2 (confirm the order).
#[derive(Debug, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Legacy {
    CreatingOrder {
        progress: Progress,
    },
    CreatingInvoice {
        order_id: String,
        progress: Progress,
    },
    ConfirmingOrder {
        order_id: String,
        invoice_id: String,
        progress: Progress,
    },
    Completed {
        order_id: String,
        invoice_id: String,
    },
    VoidingInvoice {
        order_id: String,
        invoice_id: Option<String>,
        progress: Progress,
        cause: String,
    },
    CancellingOrder {
        order_id: Option<String>,
        invoice_id: Option<String>,
        progress: Progress,
        cause: String,
    },
    Compensated {
        order_id: Option<String>,
        invoice_id: Option<String>,
        cause: String,
    },
    Failed {
        order_id: Option<String>,
        invoice_id: Option<String>,
        cause: String,
    },
}

impl Legacy {
    /// The generic state; the order step's answer had the order's total, which the
    /// invoice step reads.
    fn into_generic(self, total_cents: &Value) -> SagaState {
        let order =
            |id: String| Effect::Done(json!({ "order_id": id, "total_cents": total_cents }));
        let invoice = |id: String| Effect::Done(json!({ "invoice_id": id }));
        let undone = |effect: Effect| Effect::Undone(effect.output().cloned());
        let (position, effects, cause) = match self {
            Legacy::CreatingOrder { progress } => (forward(0, progress), vec![], None),
            Legacy::CreatingInvoice { order_id, progress } => {
                (forward(1, progress), vec![order(order_id)], None)
            }
            Legacy::ConfirmingOrder {
                order_id,
                invoice_id,
                progress,
            } => (
                forward(2, progress),
                vec![order(order_id), invoice(invoice_id)],
                None,
            ),
            Legacy::Completed {
                order_id,
                invoice_id,
            } => (
                Position::Completed,
                vec![
                    order(order_id),
                    invoice(invoice_id),
                    Effect::Done(json!({})),
                ],
                None,
            ),
            Legacy::VoidingInvoice {
                order_id,
                invoice_id,
                progress,
                cause,
            } => (
                Position::Backward { step: 1, progress },
                vec![order(order_id), invoice_id.map_or(Effect::Unknown, invoice)],
                Some(cause),
            ),
            Legacy::CancellingOrder {
                order_id,
                invoice_id,
                progress,
                cause,
            } => (
                Position::Backward { step: 0, progress },
                vec![
                    order_id.map_or(Effect::Unknown, order),
                    invoice_id.map_or(Effect::None, |id| undone(invoice(id))),
                ],
                Some(cause),
            ),
            Legacy::Compensated {
                order_id,
                invoice_id,
                cause,
            } => (
                Position::Compensated,
                vec![
                    undone(order_id.map_or(Effect::None, order)),
                    invoice_id.map_or(Effect::None, |id| undone(invoice(id))),
                ],
                Some(cause),
            ),
            Legacy::Failed {
                order_id,
                invoice_id,
                cause,
            } => (
                // Which call was refused was not kept.
                Position::Failed { refused: None },
                vec![
                    order_id.map_or(Effect::Unknown, order),
                    invoice_id.map_or(Effect::None, invoice),
                ],
                Some(cause),
            ),
        };
        let mut effects = effects;
        effects.resize(3, Effect::None);
        SagaState {
            position,
            effects,
            cause,
            requests: Vec::new(),
        }
    }
}

fn forward(step: usize, progress: Progress) -> Position {
    Position::Forward { step, progress }
}

#[cfg(test)]
mod tests {
    use saga_definitions::machine::SagaStatus;

    use super::*;

    #[test]
    fn a_state_from_before_definitions_reads_as_the_generic_one() {
        let text = r#"{"state":"voiding_invoice","order_id":"o-1","invoice_id":null,
            "progress":{"attempt":2,"started_ms":5,"in_flight":false,"maybe_applied":true},
            "cause":"confirm refused"}"#;
        let state = state_from_json(text, &json!({"total_cents": 700})).expect("legacy state");
        assert_eq!(state.status(), SagaStatus::Compensating);
        assert!(
            matches!(state.position, Position::Backward { step: 1, progress } if progress.attempt == 2 && !progress.parked)
        );
        assert_eq!(
            state.effects,
            vec![
                Effect::Done(json!({"order_id": "o-1", "total_cents": 700})),
                Effect::Unknown,
                Effect::None
            ]
        );
        assert_eq!(state.cause.as_deref(), Some("confirm refused"));
    }

    #[test]
    fn a_generic_state_reads_as_itself() {
        let state = SagaState {
            position: Position::Completed,
            effects: vec![Effect::Done(json!({"x": 1})), Effect::Undone(None)],
            cause: None,
            requests: vec!["r1".into()],
        };
        let text = serde_json::to_string(&state).expect("serializes");
        assert_eq!(
            state_from_json(&text, &Value::Null).expect("generic state"),
            state
        );
    }
}
