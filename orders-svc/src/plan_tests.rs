//! Batches decided together, on a fresh database per backend: the calls of one batch see
//! what the calls before them decided, a refused call leaves the others' writes, and
//! what a batch decided is what it wrote.

use saga_contracts::orders::v1 as proto;
use service_kit::db::Db;
use service_kit::write_plan;

use super::*;
use crate::domain::{LineItem, Origin};

async fn databases() -> (tempfile::TempDir, Vec<Db>) {
    service_kit::testing::databases(&crate::startup::MIGRATIONS).await
}

fn create(saga_id: &str) -> Call {
    Call::Create {
        saga_id: saga_id.into(),
        new: NewOrder {
            origin: Origin::Saga(saga_id.into()),
            customer_id: "c".into(),
            items: vec![LineItem {
                sku: "A".into(),
                quantity: 1,
                unit_price_cents: 100,
            }],
            total_cents: 100,
            currency: "EUR".into(),
        },
    }
}

fn cancel(saga_id: &str) -> Call {
    Call::Cancel(CancelOrder {
        saga_id: saga_id.into(),
        order_id: None,
    })
}

fn confirm(saga_id: &str, order_id: &str) -> Call {
    Call::Confirm(ConfirmOrder {
        saga_id: saga_id.into(),
        order_id: order_id.into(),
        version: None,
    })
}

/// Runs `calls` as one batch and commits it: each call's answer, or its gRPC code.
async fn batch(db: &Db, calls: Vec<Call>) -> Vec<Result<Vec<u8>, tonic::Code>> {
    let mut tx = db.begin_write().await.expect("begin");
    let outcomes = write_plan::run(&OrdersPlan, &mut tx, calls)
        .await
        .expect("the batch's statements");
    tx.commit().await.expect("commit");
    outcomes
        .into_iter()
        .map(|outcome| outcome.map_err(|e| tonic::Status::from(e).code()))
        .collect()
}

fn order(answer: &Result<Vec<u8>, tonic::Code>) -> proto::Order {
    let bytes = answer.as_ref().expect("an answer");
    proto::Order::decode(bytes.as_slice()).expect("an order")
}

fn cancelled(answer: &Result<Vec<u8>, tonic::Code>) -> Option<proto::Order> {
    let bytes = answer.as_ref().expect("an answer");
    let response = proto::CancelOrderResponse::decode(bytes.as_slice()).expect("a response");
    response.order
}

async fn stored(db: &Db, saga_id: &str) -> Option<proto::Order> {
    let mut tx = db.begin_read().await.expect("begin");
    let order = store::order_by_saga(&mut tx, saga_id).await.expect("read");
    tx.commit().await.expect("commit");
    order.map(Into::into)
}

#[tokio::test]
async fn the_calls_of_one_batch_see_what_the_calls_before_them_decided() {
    let (_dir, dbs) = databases().await;
    for db in dbs {
        let outcomes = batch(
            &db,
            vec![
                create("s1"),
                create("s1"),
                cancel("s1"),
                create("s2"),
                cancel("s3"),
                create("s3"),
            ],
        )
        .await;
        let created = order(&outcomes[0]);
        assert_eq!(outcomes[1], outcomes[0], "a repeat in the batch replays");
        let undone = cancelled(&outcomes[2]).expect("the order created in the batch");
        assert_eq!(undone.order_id, created.order_id);
        assert_eq!(undone.status, i32::from(proto::OrderStatus::Cancelled));
        assert_eq!(cancelled(&outcomes[4]), None, "a tombstone");
        assert_eq!(outcomes[5], Err(tonic::Code::FailedPrecondition));
        assert_eq!(stored(&db, "s1").await, Some(undone), "created cancelled");
        let pending = stored(&db, "s2").await.expect("s2's order");
        assert_eq!(pending, order(&outcomes[3]));
        assert_eq!(
            stored(&db, "s3").await,
            None,
            "the refused create wrote nothing"
        );

        let outcomes = batch(
            &db,
            vec![
                confirm("s2", &pending.order_id),
                cancel("s2"),
                confirm("s1", &created.order_id),
                confirm("s2", &pending.order_id),
            ],
        )
        .await;
        let confirmed = order(&outcomes[0]);
        assert_eq!(confirmed.status, i32::from(proto::OrderStatus::Confirmed));
        assert_eq!(outcomes[1], Err(tonic::Code::FailedPrecondition));
        assert_eq!(outcomes[2], Err(tonic::Code::FailedPrecondition));
        assert_eq!(outcomes[3], outcomes[0], "a repeat in the batch replays");
        assert_eq!(stored(&db, "s2").await, Some(confirmed));
    }
}
