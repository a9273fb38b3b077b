use prost_reflect::DescriptorPool;
use serde_json::{Value, json};

use super::*;
use crate::file;
use crate::problem::describe;

const PLACE_ORDER: &str = include_str!("../../../definitions/place-order.json");

fn pool() -> DescriptorPool {
    DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET).expect("the contracts decode")
}

fn checked(definition: &Value) -> Result<Checked, Vec<Problem>> {
    let proto = file::from_json(&definition.to_string()).expect("a definition file");
    check(&proto, &pool())
}

/// The problems of a definition, as `location: message`.
fn problems(definition: &Value) -> Vec<String> {
    match checked(definition) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts one problem at `location` whose message says `says`.
fn assert_problem(definition: &Value, location: &str, says: &str) {
    let found = problems(definition);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with(&format!("{location}: ")) && p.contains(says)),
        "no problem at {location} saying {says:?} in {found:#?}"
    );
}

fn place_order() -> Value {
    serde_json::from_str(PLACE_ORDER).expect("place-order.json is JSON")
}

/// A one-step definition over orders.v1.Orders/CreateOrder with this request template.
fn create_order_with(input: Value) -> Value {
    json!({"name": "one", "steps": [{
        "name": "create_order", "action": "orders.v1.Orders/CreateOrder",
        "action_input": input,
        "compensation": "orders.v1.Orders/CancelOrder",
        "compensation_input": {"saga_id": "${saga.id}"}
    }]})
}

#[test]
fn the_built_in_place_order_definition_is_clean_and_learns_its_input() {
    let checked = checked(&place_order()).unwrap_or_else(|p| panic!("{}", describe(&p)));
    let names: Vec<&str> = checked
        .definition
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["create_order", "create_invoice", "confirm_order"]);
    let kinds: Vec<Kind> = checked.definition.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [Kind::Compensatable, Kind::Compensatable, Kind::Retriable]
    );
    assert_eq!(
        checked.input.paths(),
        ["input.currency", "input.customer_id", "input.items"]
    );
    let good = json!({"customer_id": "c", "currency": "EUR",
                      "items": [{"sku": "A", "quantity": 2, "unit_price_cents": "250"}]});
    assert_eq!(checked.input.check(&good), Vec::<Problem>::new());
}

#[test]
fn an_input_that_lacks_a_path_or_has_a_wrong_type_is_named() {
    let checked = checked(&place_order()).unwrap_or_else(|p| panic!("{}", describe(&p)));
    let bad = json!({"customer_id": 7, "items": [{"sku": "A", "quantity": "x"}]});
    let found: Vec<String> = checked
        .input
        .check(&bad)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[1].starts_with("input.customer_id: expected string"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with("input.items[0].quantity: \"x\" is not a uint32"),
        "{found:#?}"
    );
    assert!(
        found[0].starts_with("input.currency: missing"),
        "{found:#?}"
    );
    assert_eq!(
        checked
            .input
            .check(&json!([]))
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["input: expected a JSON object"]
    );
}

#[test]
fn names_must_be_well_formed_unique_and_not_reserved() {
    let mut d = place_order();
    d["name"] = json!("Place Order");
    d["steps"][1]["name"] = json!("create_order");
    d["steps"][2]["name"] = json!("saga");
    assert_problem(&d, "name", "is not a name");
    assert_problem(&d, "steps[1].name", "already the name of steps[0]");
    assert_problem(&d, "steps[2].name", "reserved");
    assert_problem(
        &json!({"name": "empty", "steps": []}),
        "steps",
        "at least one step",
    );
}

#[test]
fn no_two_log_names_are_the_same() {
    let mut d = place_order();
    d["steps"][1]["compensation"] = json!("orders.v1.Orders/CancelOrder");
    d["steps"][1]["compensation_input"] = json!({"saga_id": "${saga.id}"});
    assert_problem(
        &d,
        "steps[1].compensation",
        "its log name \"cancel_order\" is already steps[0].compensation's",
    );
    let mut clash = place_order();
    clash["steps"][2]["name"] = json!("void_invoice");
    assert_problem(&clash, "steps[1].compensation", "already steps[2].name's");
}

#[test]
fn methods_must_be_well_formed_and_served() {
    let mut d = place_order();
    d["steps"][0]["action"] = json!("CreateOrder");
    d["steps"][1]["action"] = json!("billing.v1.Billing/Charge");
    d["steps"][2]["action"] = json!("orders.v1.Orders/ShipOrder");
    assert_problem(
        &d,
        "steps[0].action",
        "not a method: package.Service/Method",
    );
    assert_problem(
        &d,
        "steps[1].action",
        "no participant serves billing.v1.Billing",
    );
    assert_problem(
        &d,
        "steps[2].action",
        "orders.v1.Orders has no method ShipOrder",
    );
}

#[test]
fn templates_must_parse() {
    let d = create_order_with(json!("{\"saga_id\": "));
    assert_problem(&d, "steps[0].action_input", "not JSON");
    let d = create_order_with(json!({"saga_id": "${order.id}"}));
    assert_problem(&d, "steps[0].action_input", "saga_id: a path starts with");
}

#[test]
fn every_field_must_exist_in_the_request_with_a_value_of_its_type() {
    let d = create_order_with(json!({
        "saga_id": "${saga.id}", "customer": "c",
        "currency": 12,
        "items": [{"sku": "A", "quantity": -1, "unit_price_cents": "cheap"}, "x"]
    }));
    assert_problem(
        &d,
        "steps[0].action_input.customer",
        "orders.v1.CreateOrderRequest has no field customer",
    );
    assert_problem(
        &d,
        "steps[0].action_input.currency",
        "expected string, found a number",
    );
    assert_problem(
        &d,
        "steps[0].action_input.items[0].quantity",
        "-1 is out of range for uint32",
    );
    assert_problem(
        &d,
        "steps[0].action_input.items[0].unit_price_cents",
        "\"cheap\" is not a int64",
    );
    assert_problem(
        &d,
        "steps[0].action_input.items[1]",
        "expected message orders.v1.LineItem, found a string",
    );
    let d = create_order_with(json!({"saga_id": {"id": 1}, "items": {"sku": "A"}}));
    assert_problem(
        &d,
        "steps[0].action_input.saga_id",
        "expected string, found an object",
    );
    assert_problem(
        &d,
        "steps[0].action_input.items",
        "expected a list of message orders.v1.LineItem, found an object",
    );
}

#[test]
fn an_unknown_enum_value_is_a_problem() {
    let d = json!({"name": "list", "steps": [{
        "name": "list", "action": "orders.v1.Orders/ListOrders",
        "action_input": {"status": "ORDER_STATUS_LOST", "page_size": 10}
    }]});
    assert_problem(
        &d,
        "steps[0].action_input.status",
        "not a value of enum orders.v1.OrderStatus",
    );
    let mut fine = d.clone();
    fine["steps"][0]["action_input"]["status"] = json!("ORDER_STATUS_PENDING");
    assert_eq!(problems(&fine), Vec::<String>::new());
}

#[test]
fn paths_must_read_an_earlier_steps_existing_field_of_a_fitting_type() {
    let mut d = place_order();
    d["steps"][0]["action_input"]["customer_id"] =
        json!("${steps.create_invoice.output.customer_id}");
    d["steps"][1]["action_input"]["order_id"] = json!("${steps.create_order.output.id}");
    d["steps"][1]["action_input"]["amount_cents"] = json!("${steps.create_order.output.order_id}");
    d["steps"][2]["action_input"]["order_id"] = json!("${steps.ship.output.order_id}");
    assert_problem(
        &d,
        "steps[0].action_input.customer_id",
        "step create_invoice runs later",
    );
    assert_problem(
        &d,
        "steps[1].action_input.order_id",
        "orders.v1.Order has no field id",
    );
    assert_problem(
        &d,
        "steps[1].action_input.amount_cents",
        "is string, but the field is int64",
    );
    assert_problem(
        &d,
        "steps[2].action_input.order_id",
        "there is no step ship before this one",
    );
}

#[test]
fn a_compensation_reads_its_own_steps_output_and_an_action_does_not() {
    let d = create_order_with(json!({"saga_id": "${steps.create_order.output.saga_id}"}));
    assert_problem(
        &d,
        "steps[0].action_input.saga_id",
        "step create_order runs later, its output is not known yet",
    );
    assert_eq!(
        problems(&place_order()),
        Vec::<String>::new(),
        "the cancel reads the order id"
    );
}

#[test]
fn one_input_path_cannot_be_two_types() {
    let mut d = place_order();
    d["steps"][1]["action_input"]["amount_cents"] = json!("${input.currency}");
    assert_problem(
        &d,
        "steps[1].action_input.amount_cents",
        "input.currency is int64 here but string at steps[0].action_input.currency",
    );
}

#[test]
fn kinds_come_in_order_and_match_their_compensation() {
    let mut d = place_order();
    d["steps"][0]["kind"] = json!("retriable");
    d["steps"][2]["kind"] = json!("compensatable");
    assert_problem(&d, "steps[0].kind", "a retriable step is never undone");
    assert_problem(&d, "steps[1].kind", "cannot come after steps[0]");
    assert_problem(&d, "steps[2].kind", "needs a compensation");
    let mut two_pivots = place_order();
    two_pivots["steps"][1] = two_pivots["steps"][2].clone();
    two_pivots["steps"][1]["name"] = json!("confirm_first");
    two_pivots["steps"][1]["kind"] = json!("pivot");
    two_pivots["steps"][2]["kind"] = json!("pivot");
    assert_problem(
        &two_pivots,
        "steps[2].kind",
        "a pivot cannot come after steps[1]",
    );
}

#[test]
fn retry_limits_must_be_sane() {
    let mut d = place_order();
    d["steps"][0]["retry"] =
        json!({"max_attempts": 100000, "initial_backoff_ms": 500, "max_backoff_ms": 100});
    d["steps"][1]["retry"] = json!({"call_timeout_ms": 5000, "step_time_limit_ms": 1000});
    assert_problem(&d, "steps[0].retry.max_attempts", "over the limit of 10000");
    assert_problem(
        &d,
        "steps[0].retry.initial_backoff_ms",
        "more than max_backoff_ms 100",
    );
    assert_problem(
        &d,
        "steps[1].retry.call_timeout_ms",
        "more than step_time_limit_ms 1000",
    );
}

#[test]
fn the_output_template_reads_only_what_exists() {
    let mut d = place_order();
    d["output"] =
        json!({"order": "${steps.create_order.output.nope}", "who": "${input.customer_id}"});
    assert_problem(
        &d,
        "output_template.order",
        "orders.v1.Order has no field nope",
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let mut d = place_order();
    d["name"] = json!("");
    d["steps"][0]["action"] = json!("nope");
    d["steps"][2]["action_input"]["order"] = json!(1);
    assert_eq!(problems(&d).len(), 3, "{:#?}", problems(&d));
}
