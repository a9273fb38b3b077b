//! Orders placed directly on a fresh database per backend: each change commits with its
//! event and a refused one leaves neither; an invoicing saga works on one version.

use saga_contracts::orders::v1 as proto;
use service_kit::db::Db;

use super::*;
use crate::domain::{After, LineItem, Lines, OrderFilter};
use crate::plan::OrdersPlan;
use crate::service::{confirm_order, list_orders};

async fn databases() -> (tempfile::TempDir, Vec<Db>) {
    service_kit::testing::databases(&crate::startup::MIGRATIONS).await
}

fn placed(key: &str, unit_price_cents: i64) -> NewOrder {
    NewOrder {
        origin: Origin::Direct(key.into()),
        customer_id: "c".into(),
        items: vec![LineItem {
            sku: "A".into(),
            quantity: 2,
            unit_price_cents,
        }],
        total_cents: 2 * unit_price_cents,
        currency: "EUR".into(),
    }
}

fn invoicing(saga_id: &str, order: &proto::Order) -> Invoicing {
    Invoicing {
        saga_id: saga_id.into(),
        order_id: order.order_id.clone(),
        version: order.version,
    }
}

fn confirming(saga_id: &str, order: &proto::Order) -> ConfirmOrder {
    ConfirmOrder {
        saga_id: saga_id.into(),
        order_id: order.order_id.clone(),
        version: Some(order.version),
    }
}

/// Every event in the outbox, as (type, order status, version).
async fn events(db: &Db) -> Vec<(String, i32, u64)> {
    let mut tx = db.begin_read().await.expect("begin");
    let events = outbox::after(&mut tx, 0, 1_000).await.expect("read");
    tx.commit().await.expect("commit");
    events
        .into_iter()
        .map(|e| {
            let order = e.order.unwrap_or_default();
            (e.r#type, order.status, order.version)
        })
        .collect()
}

/// Places `key` and has saga `saga_id` begin invoicing it.
async fn placed_and_begun(writer: &Writer, key: &str, saga_id: &str) -> proto::Order {
    let order = place_order(writer, placed(key, 100)).await.expect("place");
    let begun = begin_invoicing(writer, invoicing(saga_id, &order)).await;
    assert_eq!(begun.expect("begin"), order);
    order
}

fn code(result: Result<impl std::fmt::Debug, ApiError>) -> tonic::Code {
    tonic::Status::from(result.expect_err("expected a refusal")).code()
}

const PENDING: i32 = proto::OrderStatus::Pending as i32;
const CANCELLED: i32 = proto::OrderStatus::Cancelled as i32;

#[tokio::test]
async fn a_repeated_place_answers_its_order_and_another_request_under_the_key_is_refused() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = place_order(&writer, placed("k1", 100))
            .await
            .expect("place");
        assert_eq!((order.total_cents, order.version), (200, 1));
        assert_eq!(order.idempotency_key, "k1");
        let again = place_order(&writer, placed("k1", 100))
            .await
            .expect("repeat");
        assert_eq!(again, order);
        let other = place_order(&writer, placed("k1", 101)).await;
        assert_eq!(code(other), tonic::Code::AlreadyExists);
        assert_eq!(
            events(&db).await,
            vec![("order-created".into(), PENDING, 1)]
        );
    }
}

#[tokio::test]
async fn an_invoicing_saga_confirms_the_version_it_began_and_no_other_saga_does() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = place_order(&writer, placed("k1", 100))
            .await
            .expect("place");
        let begun = begin_invoicing(&writer, invoicing("s-1", &order)).await;
        assert_eq!(begun.expect("begin"), order);
        let stranger = confirm_order(&writer, confirming("s-2", &order)).await;
        assert_eq!(code(stranger), tonic::Code::FailedPrecondition);
        let confirmed = confirm_order(&writer, confirming("s-1", &order)).await;
        let confirmed = confirmed.expect("confirm");
        assert_eq!(confirmed.status(), proto::OrderStatus::Confirmed);
        let late = begin_invoicing(&writer, invoicing("s-3", &order)).await;
        assert_eq!(code(late), tonic::Code::FailedPrecondition);
        let withdrawn = withdraw_order(&writer, order.order_id.clone()).await;
        assert_eq!(code(withdrawn), tonic::Code::FailedPrecondition);
    }
}

#[tokio::test]
async fn a_change_while_invoicing_refuses_the_confirmation_and_the_rejection_keeps_the_order() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = placed_and_begun(&writer, "k1", "s-1").await;
        let update = UpdateOrder {
            order_id: order.order_id.clone(),
            lines: Lines {
                items: placed("k1", 300).items,
                total_cents: 600,
            },
            version: 1,
        };
        let updated = update_order(&writer, update.clone()).await.expect("update");
        assert_eq!((updated.version, updated.total_cents), (2, 600));
        assert_eq!(
            code(update_order(&writer, update).await),
            tonic::Code::FailedPrecondition
        );
        let stale = confirm_order(&writer, confirming("s-1", &order)).await;
        assert_eq!(code(stale), tonic::Code::FailedPrecondition);
        let rejected = reject_order(&writer, invoicing("s-1", &order))
            .await
            .expect("reject");
        assert_eq!(
            rejected.order.map(|o| (o.status, o.version)),
            Some((PENDING, 2))
        );
        let newer = begin_invoicing(&writer, invoicing("s-2", &updated)).await;
        assert_eq!(newer.expect("begin v2").total_cents, 600);
        assert_eq!(
            events(&db).await,
            vec![
                ("order-created".into(), PENDING, 1),
                ("order-updated".into(), PENDING, 2)
            ]
        );
    }
}

#[tokio::test]
async fn a_rejection_at_the_sagas_version_cancels_even_before_its_begin_and_refuses_a_late_one() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let order = placed_and_begun(&writer, "k1", "s-1").await;
        let rejected = reject_order(&writer, invoicing("s-1", &order))
            .await
            .expect("reject");
        assert_eq!(rejected.order.map(|o| o.status), Some(CANCELLED));
        let again = reject_order(&writer, invoicing("s-1", &order))
            .await
            .expect("repeat");
        assert_eq!(again.order.map(|o| o.status), Some(CANCELLED));
        let other = place_order(&writer, placed("k2", 100))
            .await
            .expect("place");
        // A saga that gave up before its begin arrived still rejects the order it was for.
        let early = reject_order(&writer, invoicing("s-2", &other))
            .await
            .expect("reject");
        assert_eq!(early.order.map(|o| o.status), Some(CANCELLED));
        let late = begin_invoicing(&writer, invoicing("s-2", &other)).await;
        assert_eq!(code(late), tonic::Code::FailedPrecondition);
        let withdrawn = withdraw_order(&writer, other.order_id.clone()).await;
        assert_eq!(withdrawn.expect("withdraw").status, CANCELLED);
        let types: Vec<_> = events(&db).await.into_iter().map(|(t, ..)| t).collect();
        let expected = [
            "order-created",
            "order-cancelled",
            "order-created",
            "order-cancelled",
        ];
        assert_eq!(types, expected);
    }
}

#[tokio::test]
async fn a_listing_by_change_pages_the_pending_orders_placed_directly_in_change_order() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let writer = Writer::with_plan(db.clone(), 8, OrdersPlan);
        let mut orders = Vec::new();
        for key in ["k1", "k2", "k3"] {
            orders.push(place_order(&writer, placed(key, 100)).await.expect("place"));
        }
        withdraw_order(&writer, orders[1].order_id.clone())
            .await
            .expect("withdraw");
        let page = |after: After| OrderFilter {
            customer_id: None,
            status: Some(crate::domain::OrderStatus::Pending),
            saga_id: None,
            direct: Some(true),
            after,
            page_size: 1,
        };
        let mut seen = Vec::new();
        let mut after = After::Change {
            updated_at_ms: 0,
            order_id: String::new(),
        };
        loop {
            let listed = list_orders(&db, page(after.clone())).await.expect("list");
            let Some(last) = listed.orders.last() else {
                break;
            };
            after = After::Change {
                updated_at_ms: last.updated_at_ms,
                order_id: last.order_id.clone(),
            };
            seen.extend(listed.orders.iter().map(|o| o.idempotency_key.clone()));
        }
        seen.sort();
        assert_eq!(seen, ["k1", "k3"]);
    }
}
