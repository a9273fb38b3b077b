use saga_contracts::orders::v1 as orders;

use super::plan;

fn order(saga_id: &str, key: &str, status: orders::OrderStatus) -> orders::Order {
    orders::Order {
        order_id: "o1".into(),
        saga_id: saga_id.into(),
        idempotency_key: key.into(),
        status: status.into(),
        version: 3,
        ..Default::default()
    }
}

#[test]
fn only_a_pending_order_placed_directly_gets_a_saga_keyed_by_its_version() {
    let planned = plan(&order("", "k", orders::OrderStatus::Pending));
    let (key, input) = planned.expect("a saga");
    assert_eq!(key, "invoice-order/o1/v3");
    assert_eq!(input, serde_json::json!({"order_id": "o1", "version": 3}));
    for status in [
        orders::OrderStatus::Confirmed,
        orders::OrderStatus::Cancelled,
    ] {
        assert_eq!(plan(&order("", "k", status)), None, "{status:?}");
    }
    assert_eq!(plan(&order("s-1", "", orders::OrderStatus::Pending)), None);
}
