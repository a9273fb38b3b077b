//! Table tests of request validation: each bad request is refused naming its field.

use saga_contracts::orders::v1 as proto;

use crate::domain::{After, CancelOrder, LineItem, NewOrder, OrderFilter, OrderStatus, Origin};
use crate::error::ApiError;

fn item(sku: &str, quantity: u32, unit_price_cents: i64) -> proto::LineItem {
    proto::LineItem {
        sku: sku.to_string(),
        quantity,
        unit_price_cents,
    }
}

fn good() -> proto::CreateOrderRequest {
    proto::CreateOrderRequest {
        saga_id: "s-1".into(),
        customer_id: "c-1".into(),
        items: vec![item("A", 2, 150), item("B", 1, 100)],
        currency: "EUR".into(),
    }
}

fn field_of(result: Result<NewOrder, ApiError>) -> String {
    match result {
        Err(ApiError::Invalid { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_good_create_is_accepted_with_its_total() {
    let order = NewOrder::try_from(good()).expect("valid");
    assert_eq!(
        order,
        NewOrder {
            origin: Origin::Saga("s-1".into()),
            customer_id: "c-1".into(),
            items: vec![
                LineItem {
                    sku: "A".into(),
                    quantity: 2,
                    unit_price_cents: 150
                },
                LineItem {
                    sku: "B".into(),
                    quantity: 1,
                    unit_price_cents: 100
                },
            ],
            total_cents: 400,
            currency: "EUR".into(),
        }
    );
}

#[test]
fn each_bad_create_names_its_field() {
    type Edit = fn(&mut proto::CreateOrderRequest);
    let cases: [(Edit, &str); 13] = [
        (|r| r.saga_id.clear(), "saga_id"),
        (|r| r.saga_id = "s".repeat(129), "saga_id"),
        (|r| r.customer_id.clear(), "customer_id"),
        (|r| r.customer_id = "c".repeat(129), "customer_id"),
        (|r| r.items.clear(), "items"),
        (|r| r.items[1].sku.clear(), "items[1].sku"),
        (|r| r.items[0].quantity = 0, "items[0].quantity"),
        (
            |r| r.items[1].unit_price_cents = 0,
            "items[1].unit_price_cents",
        ),
        (
            |r| r.items[0].unit_price_cents = -5,
            "items[0].unit_price_cents",
        ),
        (
            |r| r.items = vec![item("A", u32::MAX, i64::MAX / 2)],
            "items",
        ),
        (
            |r| r.items = vec![item("A", 1, i64::MAX), item("B", 1, 1)],
            "items",
        ),
        (|r| r.currency = "eur".into(), "currency"),
        (|r| r.currency = "EURO".into(), "currency"),
    ];
    for (edit, field) in cases {
        let mut request = good();
        edit(&mut request);
        assert_eq!(field_of(NewOrder::try_from(request)), field);
    }
}

#[test]
fn a_saga_id_of_exactly_128_bytes_is_accepted() {
    let request = proto::CreateOrderRequest {
        saga_id: "s".repeat(128),
        ..good()
    };
    assert!(NewOrder::try_from(request).is_ok());
}

#[test]
fn a_cancel_without_order_id_cancels_whatever_the_saga_created() {
    let request = proto::CancelOrderRequest {
        saga_id: "s-1".into(),
        order_id: String::new(),
    };
    assert_eq!(
        CancelOrder::try_from(request).expect("valid"),
        CancelOrder {
            saga_id: "s-1".into(),
            order_id: None
        }
    );
}

#[test]
fn a_list_reads_its_filters_and_refuses_foreign_tokens() {
    let request = proto::ListOrdersRequest {
        customer_id: "c-1".into(),
        status: proto::OrderStatus::Confirmed.into(),
        page_size: 0,
        page_token: "p7".into(),
        saga_id: String::new(),
        origin: proto::OrderOrigin::Direct.into(),
        changed_after: None,
    };
    assert_eq!(
        OrderFilter::try_from(request.clone()).expect("valid"),
        OrderFilter {
            customer_id: Some("c-1".into()),
            status: Some(OrderStatus::Confirmed),
            saga_id: None,
            direct: Some(true),
            after: After::Seq(Some(7)),
            page_size: service_kit::paging::DEFAULT_PAGE_SIZE,
        }
    );
    let foreign = proto::ListOrdersRequest {
        page_token: "junk".into(),
        ..request.clone()
    };
    assert!(
        matches!(OrderFilter::try_from(foreign), Err(ApiError::Invalid { field, .. }) if field == "page_token")
    );
    let unknown = proto::ListOrdersRequest {
        status: 42,
        ..request
    };
    assert!(
        matches!(OrderFilter::try_from(unknown), Err(ApiError::Invalid { field, .. }) if field == "status")
    );
}
