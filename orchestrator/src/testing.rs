//! What the orchestrator's own tests share: the built-in definition ready to run and a
//! small order as its input.

use std::sync::Arc;

use prost_reflect::DescriptorPool;
use saga_definitions::machine::{self, Backoff, Context, Policy, Transition};
use saga_definitions::{check, file};
use serde_json::{Value, json};

use crate::definitions::{PLACE_ORDER, Runnable};

/// place-order as the first registration stores it: version 1.
pub fn place_order() -> Arc<Runnable> {
    let pool = DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET).expect("contracts");
    let body = file::from_json(PLACE_ORDER).expect("place-order.json reads");
    let checked = check(&body, &pool).expect("place-order.json checks");
    Arc::new(Runnable::new(1, checked))
}

/// The input of a place-order saga for `customer`: one line, 2 × 19.99 EUR.
pub fn order_input(customer: &str) -> Value {
    json!({
        "customer_id": customer,
        "items": [{"sku": "beans", "quantity": 2, "unit_price_cents": 1999}],
        "currency": "EUR",
        "total_cents": 3998,
    })
}

/// The orchestrator's retry limits in the tests.
pub fn policy() -> Policy {
    Policy {
        max_attempts: 8,
        step_time_limit_ms: 60_000,
        saga_timeout_ms: None,
        park_after_attempts: 20,
        backoff: Backoff {
            base_ms: 10,
            max_ms: 100,
            parked_ms: 500,
        },
    }
}

/// The first transition of a place-order saga accepted at `now_ms`.
pub fn first_transition(now_ms: i64) -> Transition {
    let runnable = place_order();
    machine::start(&Context {
        now_ms,
        saga_started_ms: now_ms,
        policy: &policy(),
        definition: runnable.definition(),
        jitter: 0.5,
    })
}
