//! The orders operations: each mutating one is a single write transaction holding its
//! barrier step, its effect and its recorded answer, so a repeat replays the answer and a
//! refusal leaves no trace.

use prost::Message;
use saga_contracts::orders::v1 as proto;
use service_kit::barrier::{self, Entry, Step, StepKind};
use service_kit::db::{Db, GroupWriter, Tx};
use service_kit::paging;
use tracing::info;

use crate::direct;
use crate::domain::{CancelOrder, ConfirmOrder, NewOrder, Order, OrderFilter, OrderStatus, Origin};
use crate::error::ApiError;
use crate::store;

const CREATE_ORDER: &str = "create_order";
const CONFIRM_ORDER: &str = "confirm_order";
const CANCEL_ORDER: &str = "cancel_order";

/// Creates the saga's PENDING order, or replays the first answer; refused once the
/// saga's order was cancelled (a tombstone).
pub async fn create_order(writer: &GroupWriter, new: NewOrder) -> Result<proto::Order, ApiError> {
    writer
        .write(move |tx| Box::pin(create_order_in(tx, new)))
        .await
}

async fn create_order_in(tx: &mut Tx, new: NewOrder) -> Result<proto::Order, ApiError> {
    let saga_id = match &new.origin {
        Origin::Saga(saga_id) => saga_id.clone(),
        Origin::Direct(_) => {
            return Err(ApiError::invalid("saga_id", "a saga creates this order"));
        }
    };
    let step = Step {
        saga_id: &saga_id,
        op: CREATE_ORDER,
        kind: StepKind::Action {
            undone_by: Some(CANCEL_ORDER),
        },
    };
    match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => Ok(proto::Order::decode(first.as_slice())?),
        // NothingToUndo is only ever the answer to a compensation; refuse rather than act.
        Entry::AlreadyCompensated | Entry::NothingToUndo => Err(ApiError::Refused(
            "the saga's order was already cancelled".to_string(),
        )),
        Entry::First => {
            let mut order = new.into_order(uuid::Uuid::new_v4().to_string());
            order.updated_at_ms = service_kit::db::now_ms();
            store::insert_order(&mut *tx, &order).await?;
            let answer = proto::Order::from(order);
            barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
            info!(order.id = %answer.order_id, total_cents = answer.total_cents, "order created PENDING");
            Ok(answer)
        }
    }
}

/// Confirms the saga's order, or replays the first answer. Refused (nothing recorded)
/// when the order belongs to another saga or was cancelled.
pub async fn confirm_order(
    writer: &GroupWriter,
    confirm: ConfirmOrder,
) -> Result<proto::Order, ApiError> {
    writer
        .write(move |tx| Box::pin(confirm_order_in(tx, confirm)))
        .await
}

async fn confirm_order_in(tx: &mut Tx, confirm: ConfirmOrder) -> Result<proto::Order, ApiError> {
    let step = Step {
        saga_id: &confirm.saga_id,
        op: CONFIRM_ORDER,
        kind: StepKind::Action { undone_by: None },
    };
    match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => Ok(proto::Order::decode(first.as_slice())?),
        // Neither is ever the answer to an action that nothing undoes.
        Entry::AlreadyCompensated | Entry::NothingToUndo => Err(ApiError::Refused(
            "the saga's order cannot be confirmed".to_string(),
        )),
        Entry::First => {
            let order = store::order_by_id(&mut *tx, &confirm.order_id)
                .await?
                .ok_or_else(|| ApiError::NotFound {
                    what: "order",
                    id: confirm.order_id.clone(),
                })?;
            let order = match order.creating_saga() {
                Some(_) => confirm_own(tx, &confirm, order).await?,
                None => direct::confirm(tx, &confirm, order).await?,
            };
            let answer = proto::Order::from(order);
            barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
            info!(order.id = %answer.order_id, "order CONFIRMED");
            Ok(answer)
        }
    }
}

/// Confirms the order the saga created; refused for another saga's or a cancelled one.
async fn confirm_own(
    tx: &mut Tx,
    confirm: &ConfirmOrder,
    mut order: Order,
) -> Result<Order, ApiError> {
    if order.creating_saga() != Some(confirm.saga_id.as_str()) {
        return Err(ApiError::Refused(format!(
            "order {:?} belongs to another saga",
            order.order_id
        )));
    }
    match order.status {
        OrderStatus::Cancelled => Err(ApiError::Refused(format!(
            "order {:?} was cancelled",
            order.order_id
        ))),
        OrderStatus::Confirmed => Ok(order),
        OrderStatus::Pending => {
            direct::leave_pending(tx, &mut order, OrderStatus::Confirmed, None).await?;
            Ok(order)
        }
    }
}

/// Cancels the saga's order, or leaves a tombstone when the saga never created one, or
/// replays the first answer. Refused (nothing recorded) once the order is confirmed.
pub async fn cancel_order(
    writer: &GroupWriter,
    cancel: CancelOrder,
) -> Result<proto::CancelOrderResponse, ApiError> {
    writer
        .write(move |tx| Box::pin(cancel_order_in(tx, cancel)))
        .await
}

async fn cancel_order_in(
    tx: &mut Tx,
    cancel: CancelOrder,
) -> Result<proto::CancelOrderResponse, ApiError> {
    let step = Step {
        saga_id: &cancel.saga_id,
        op: CANCEL_ORDER,
        kind: StepKind::Compensation {
            undoes: CREATE_ORDER,
        },
    };
    let answer = match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => return Ok(proto::CancelOrderResponse::decode(first.as_slice())?),
        // AlreadyCompensated is only ever the answer to an action; a compensation has
        // nothing to undo then either.
        Entry::NothingToUndo | Entry::AlreadyCompensated => {
            info!("no order to cancel; tombstone left");
            proto::CancelOrderResponse { order: None }
        }
        Entry::First => {
            let mut order = store::order_by_saga(&mut *tx, &cancel.saga_id)
                .await?
                .ok_or_else(|| ApiError::NotFound {
                    what: "order of saga",
                    id: cancel.saga_id.clone(),
                })?;
            if let Some(order_id) = cancel.order_id.as_ref().filter(|id| **id != order.order_id) {
                return Err(ApiError::Refused(format!(
                    "order {order_id:?} is not the saga's order"
                )));
            }
            match order.status {
                OrderStatus::Confirmed => {
                    return Err(ApiError::Refused(format!(
                        "order {:?} is already confirmed",
                        order.order_id
                    )));
                }
                OrderStatus::Cancelled => {}
                OrderStatus::Pending => {
                    direct::leave_pending(tx, &mut order, OrderStatus::Cancelled, None).await?;
                    info!(order.id = %order.order_id, "order CANCELLED");
                }
            }
            proto::CancelOrderResponse {
                order: Some(order.into()),
            }
        }
    };
    barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
    Ok(answer)
}

/// The order with id `order_id`.
pub async fn get_order(db: &Db, order_id: &str) -> Result<proto::Order, ApiError> {
    let mut tx = db.begin_read().await?;
    let order = store::order_by_id(&mut tx, order_id).await?;
    tx.commit().await?;
    let order = order.ok_or_else(|| ApiError::NotFound {
        what: "order",
        id: order_id.to_string(),
    })?;
    Ok(order.into())
}

/// One page of the orders matching `filter`.
pub async fn list_orders(
    db: &Db,
    filter: OrderFilter,
) -> Result<proto::ListOrdersResponse, ApiError> {
    let read_at_ms = service_kit::db::now_ms();
    let mut tx = db.begin_read().await?;
    let page = store::list_orders(&mut tx, &filter).await?;
    tx.commit().await?;
    let next_page_token = paging::next_token(page.orders.len(), filter.page_size, page.last_seq);
    Ok(proto::ListOrdersResponse {
        orders: page.orders.into_iter().map(Into::into).collect(),
        next_page_token,
        read_at_ms,
    })
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
