//! The orders operations: each mutating one is decided with the other calls of its batch
//! ([`crate::plan`]) and commits its barrier step, its effect and its recorded answer
//! together, so a repeat replays the answer and a refusal leaves no trace.

use prost::Message;
use saga_contracts::orders::v1 as proto;
use service_kit::db::Db;
use service_kit::paging;

use crate::domain::{CancelOrder, ConfirmOrder, NewOrder, OrderFilter, Origin};
use crate::error::ApiError;
use crate::plan::{Call, Writer};
use crate::store;

/// Creates the saga's PENDING order, or replays the first answer; refused once the
/// saga's order was cancelled (a tombstone).
pub async fn create_order(writer: &Writer, new: NewOrder) -> Result<proto::Order, ApiError> {
    let Origin::Saga(saga_id) = &new.origin else {
        return Err(ApiError::invalid("saga_id", "a saga creates this order"));
    };
    let saga_id = saga_id.clone();
    let answer = writer.planned(Call::Create { saga_id, new }).await?;
    Ok(proto::Order::decode(answer.as_slice())?)
}

/// Confirms the saga's order, or replays the first answer. Refused (nothing recorded)
/// when the order belongs to another saga or was cancelled.
pub async fn confirm_order(
    writer: &Writer,
    confirm: ConfirmOrder,
) -> Result<proto::Order, ApiError> {
    let answer = writer.planned(Call::Confirm(confirm)).await?;
    Ok(proto::Order::decode(answer.as_slice())?)
}

/// Cancels the saga's order, or leaves a tombstone when the saga never created one, or
/// replays the first answer. Refused (nothing recorded) once the order is confirmed.
pub async fn cancel_order(
    writer: &Writer,
    cancel: CancelOrder,
) -> Result<proto::CancelOrderResponse, ApiError> {
    let answer = writer.planned(Call::Cancel(cancel)).await?;
    Ok(proto::CancelOrderResponse::decode(answer.as_slice())?)
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
