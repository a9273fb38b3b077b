//! The orders operations on a fresh database per test: refusals record nothing, repeats
//! replay, listings page.

use saga_contracts::orders::v1 as proto;

use super::*;
use crate::domain::{After, LineItem, OrderStatus, Origin};
use crate::plan::OrdersPlan;

async fn databases() -> (tempfile::TempDir, Vec<Db>) {
    service_kit::testing::databases(&crate::startup::MIGRATIONS).await
}

fn new_order(saga_id: &str, customer_id: &str) -> NewOrder {
    NewOrder {
        origin: Origin::Saga(saga_id.into()),
        customer_id: customer_id.into(),
        items: vec![LineItem {
            sku: "A".into(),
            quantity: 1,
            unit_price_cents: 100,
        }],
        total_cents: 100,
        currency: "EUR".into(),
    }
}

fn code(result: Result<impl std::fmt::Debug, ApiError>) -> tonic::Code {
    tonic::Status::from(result.expect_err("expected a refusal")).code()
}

#[tokio::test]
async fn confirming_another_sagas_order_is_refused_and_recorded_nowhere() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = create_order(&writer, new_order("s-1", "c"))
            .await
            .expect("create");
        let foreign = ConfirmOrder {
            saga_id: "s-2".into(),
            order_id: order.order_id.clone(),
            version: None,
        };
        assert_eq!(
            code(confirm_order(&writer, foreign).await),
            tonic::Code::FailedPrecondition
        );
        let missing = ConfirmOrder {
            saga_id: "s-1".into(),
            order_id: "nope".into(),
            version: None,
        };
        assert_eq!(
            code(confirm_order(&writer, missing).await),
            tonic::Code::NotFound
        );
        let mine = ConfirmOrder {
            saga_id: "s-1".into(),
            order_id: order.order_id.clone(),
            version: None,
        };
        let confirmed = confirm_order(&writer, mine.clone()).await.expect("confirm");
        assert_eq!(
            confirmed,
            proto::Order {
                status: proto::OrderStatus::Confirmed.into(),
                updated_at_ms: confirmed.updated_at_ms,
                ..order
            }
        );
        assert_eq!(
            confirm_order(&writer, mine).await.expect("repeat"),
            confirmed
        );
    }
}

#[tokio::test]
async fn a_cancelled_order_cannot_be_confirmed() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = create_order(&writer, new_order("s-1", "c"))
            .await
            .expect("create");
        let cancel = CancelOrder {
            saga_id: "s-1".into(),
            order_id: None,
        };
        let cancelled = cancel_order(&writer, cancel.clone()).await.expect("cancel");
        let at = cancelled.order.as_ref().map_or(0, |o| o.updated_at_ms);
        let expected = proto::Order {
            status: proto::OrderStatus::Cancelled.into(),
            updated_at_ms: at,
            ..order.clone()
        };
        assert_eq!(cancelled.order, Some(expected.clone()));
        assert_eq!(
            cancel_order(&writer, cancel).await.expect("repeat"),
            cancelled
        );
        let confirm = ConfirmOrder {
            saga_id: "s-1".into(),
            order_id: order.order_id.clone(),
            version: None,
        };
        assert_eq!(
            code(confirm_order(&writer, confirm).await),
            tonic::Code::FailedPrecondition
        );
        assert_eq!(
            get_order(&db, &order.order_id).await.expect("get"),
            expected
        );
    }
}

#[tokio::test]
async fn a_cancel_naming_another_order_is_refused_and_a_correct_one_then_succeeds() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = create_order(&writer, new_order("s-1", "c"))
            .await
            .expect("create");
        let wrong = CancelOrder {
            saga_id: "s-1".into(),
            order_id: Some("other".into()),
        };
        assert_eq!(
            code(cancel_order(&writer, wrong).await),
            tonic::Code::FailedPrecondition
        );
        let right = CancelOrder {
            saga_id: "s-1".into(),
            order_id: Some(order.order_id.clone()),
        };
        let cancelled = cancel_order(&writer, right).await.expect("cancel");
        assert_eq!(
            cancelled.order.map(|o| o.status()),
            Some(proto::OrderStatus::Cancelled)
        );
    }
}

#[tokio::test]
async fn listings_filter_and_page_in_creation_order() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let mut created = Vec::new();
        for i in 0..5 {
            let customer = if i % 2 == 0 { "even" } else { "odd" };
            created.push(
                create_order(&writer, new_order(&format!("s-{i}"), customer))
                    .await
                    .expect("create"),
            );
        }
        let filter = |after_seq, page_size| OrderFilter {
            customer_id: Some("even".into()),
            status: Some(OrderStatus::Pending),
            saga_id: None,
            direct: None,
            after: After::Seq(after_seq),
            page_size,
        };
        let first = list_orders(&db, filter(None, 2)).await.expect("page 1");
        assert_eq!(first.orders, vec![created[0].clone(), created[2].clone()]);
        let after = paging::decode_token(&first.next_page_token).expect("token");
        let second = list_orders(&db, filter(after, 2)).await.expect("page 2");
        assert_eq!(second.orders, vec![created[4].clone()]);
        assert_eq!(second.next_page_token, "");
        let by_saga = OrderFilter {
            customer_id: None,
            status: None,
            saga_id: Some("s-3".into()),
            direct: None,
            after: After::Seq(None),
            page_size: 10,
        };
        assert_eq!(
            list_orders(&db, by_saga).await.expect("by saga").orders,
            vec![created[3].clone()]
        );
    }
}

#[tokio::test]
async fn a_confirm_racing_a_cancel_lets_exactly_one_through() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        for i in 0..8 {
            let saga_id = format!("s-{i}");
            let order = create_order(&writer, new_order(&saga_id, "c"))
                .await
                .expect("create");
            let confirm = ConfirmOrder {
                saga_id: saga_id.clone(),
                order_id: order.order_id.clone(),
                version: None,
            };
            let cancel = CancelOrder {
                saga_id: saga_id.clone(),
                order_id: None,
            };
            let (confirmed, cancelled) = tokio::join!(
                confirm_order(&writer, confirm),
                cancel_order(&writer, cancel)
            );
            let stored = get_order(&db, &order.order_id).await.expect("get");
            match (confirmed, cancelled) {
                (Ok(confirmed), Err(refused)) => {
                    assert_eq!(
                        tonic::Status::from(refused).code(),
                        tonic::Code::FailedPrecondition
                    );
                    assert_eq!(stored, confirmed);
                }
                (Err(refused), Ok(cancelled)) => {
                    assert_eq!(
                        tonic::Status::from(refused).code(),
                        tonic::Code::FailedPrecondition
                    );
                    assert_eq!(Some(stored), cancelled.order);
                }
                other => panic!("exactly one must go through: {other:?}"),
            }
        }
    }
}
