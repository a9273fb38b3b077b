//! Orders placed by clients directly, and the steps of the sagas that invoice them. Every
//! change of such an order commits together with its event in the outbox; the saga
//! steps go through the barrier like every saga call.
//!
//! An invoicing saga works on one version of an order: it begins (the order is PENDING
//! at that version), issues the invoice, and confirms at that version. A change of the
//! order's items in between makes the confirmation refused, so the saga voids its invoice
//! and leaves the order to the saga of the newer version.

use prost::Message;
use saga_contracts::orders::v1 as proto;
use service_kit::barrier::{self, Entry, Step, StepKind};
use service_kit::db::{self, Tx};
use service_kit::write_plan::Records;
use tracing::info;

use crate::domain::{
    ConfirmOrder, EventType, Invoicing, NewOrder, Order, OrderStatus, Origin, PlacedAs, UpdateOrder,
};
use crate::error::ApiError;
use crate::plan::{self, Writer};
use crate::{outbox, store};

const BEGIN_INVOICING: &str = "begin_invoicing";
const REJECT_ORDER: &str = "reject_order";

/// Places a PENDING order and its `order-created` event, or answers the order a repeat
/// of the same request placed.
pub async fn place_order(writer: &Writer, new: NewOrder) -> Result<proto::Order, ApiError> {
    writer
        .write(move |tx| Box::pin(place_order_in(tx, new)))
        .await
}

async fn place_order_in(tx: &mut Tx, new: NewOrder) -> Result<proto::Order, ApiError> {
    let Origin::Direct(key) = &new.origin else {
        return Err(ApiError::invalid("idempotency_key", "must not be empty"));
    };
    if let Some((order, placed_as)) = store::order_by_key(&mut *tx, key).await? {
        return match placed_as == PlacedAs::of(&new) {
            true => Ok(order.into()),
            false => Err(ApiError::Duplicate(format!(
                "idempotency_key {key:?} already placed another order"
            ))),
        };
    }
    let mut order = new.into_order(uuid::Uuid::new_v4().to_string());
    order.updated_at_ms = db::now_ms();
    store::insert_order(&mut *tx, &order).await?;
    let answer = emit(tx, EventType::Created, order).await?;
    info!(order.id = %answer.order_id, total_cents = answer.total_cents, "order placed PENDING");
    Ok(answer)
}

/// Replaces the items of a PENDING order placed directly and emits `order-updated`.
pub async fn update_order(writer: &Writer, update: UpdateOrder) -> Result<proto::Order, ApiError> {
    writer
        .write(move |tx| Box::pin(update_order_in(tx, update)))
        .await
}

async fn update_order_in(tx: &mut Tx, update: UpdateOrder) -> Result<proto::Order, ApiError> {
    let mut order = placed_order(tx, &update.order_id).await?;
    pending(&order, "updated")?;
    if order.version != update.version {
        return Err(ApiError::Refused(format!(
            "order {:?} is at version {}, not {}",
            order.order_id, order.version, update.version
        )));
    }
    order.updated_at_ms = db::now_ms();
    let changed = store::set_lines(
        &mut *tx,
        &order.order_id,
        &update.lines,
        order.version,
        order.updated_at_ms,
    )
    .await?;
    if !changed {
        return Err(changed_meanwhile(&order));
    }
    order.version += 1;
    order.items = update.lines.items;
    order.total_cents = update.lines.total_cents;
    info!(order.id = %order.order_id, version = order.version, "order updated");
    emit(tx, EventType::Updated, order).await
}

/// Cancels a PENDING order placed directly, for its customer, and emits
/// `order-cancelled`; a repeat answers the cancelled order.
pub async fn withdraw_order(writer: &Writer, order_id: String) -> Result<proto::Order, ApiError> {
    writer
        .write(move |tx| Box::pin(withdraw_order_in(tx, order_id)))
        .await
}

async fn withdraw_order_in(tx: &mut Tx, order_id: String) -> Result<proto::Order, ApiError> {
    let order = placed_order(tx, &order_id).await?;
    match order.status {
        OrderStatus::Cancelled => Ok(order.into()),
        OrderStatus::Confirmed => Err(ApiError::Refused(format!(
            "order {order_id:?} is already confirmed"
        ))),
        OrderStatus::Pending => {
            info!(order.id = %order_id, "order withdrawn by its customer");
            cancel(tx, order).await
        }
    }
}

/// The first step of an invoicing saga: the order, if PENDING at the saga's version.
pub async fn begin_invoicing(
    writer: &Writer,
    invoicing: Invoicing,
) -> Result<proto::Order, ApiError> {
    writer
        .write(move |tx| Box::pin(begin_invoicing_in(tx, invoicing)))
        .await
}

async fn begin_invoicing_in(tx: &mut Tx, invoicing: Invoicing) -> Result<proto::Order, ApiError> {
    let step = Step {
        saga_id: &invoicing.saga_id,
        op: BEGIN_INVOICING,
        kind: StepKind::Action {
            undone_by: Some(REJECT_ORDER),
        },
    };
    match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => Ok(proto::Order::decode(first.as_slice())?),
        Entry::AlreadyCompensated | Entry::NothingToUndo => Err(ApiError::Refused(
            "the saga already rejected the order".to_string(),
        )),
        Entry::First => {
            let order = placed_order(tx, &invoicing.order_id).await?;
            pending(&order, "invoiced")?;
            at_version(&order, invoicing.version)?;
            let answer = proto::Order::from(order);
            barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
            Ok(answer)
        }
    }
}

/// Undoes `begin_invoicing`: cancels the order if it is still PENDING at the saga's
/// version (its invoice was refused, or the saga could not begin), leaves it alone if it
/// changed since.
pub async fn reject_order(
    writer: &Writer,
    invoicing: Invoicing,
) -> Result<proto::RejectOrderResponse, ApiError> {
    writer
        .write(move |tx| Box::pin(reject_order_in(tx, invoicing)))
        .await
}

async fn reject_order_in(
    tx: &mut Tx,
    invoicing: Invoicing,
) -> Result<proto::RejectOrderResponse, ApiError> {
    let step = Step {
        saga_id: &invoicing.saga_id,
        op: REJECT_ORDER,
        kind: StepKind::Compensation {
            undoes: BEGIN_INVOICING,
        },
    };
    if let Entry::Repeat(first) = barrier::enter(&mut *tx, &step).await? {
        return Ok(proto::RejectOrderResponse::decode(first.as_slice())?);
    }
    // Whether the saga's begin arrived or not (a begin that kept failing, orders-svc
    // unreachable, ends here too), the saga gives up on this version of the order: left
    // PENDING, no other saga would ever invoice it. The record is also the tombstone that
    // refuses a late begin.
    let answer = match order_if_any(tx, &invoicing.order_id).await? {
        Some(order)
            if order.status == OrderStatus::Pending && order.version == invoicing.version =>
        {
            info!(order.id = %order.order_id, "order rejected: its saga gave up on it");
            proto::RejectOrderResponse {
                order: Some(cancel(tx, order).await?),
            }
        }
        order => proto::RejectOrderResponse {
            order: order.map(Into::into),
        },
    };
    barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
    Ok(answer)
}

/// The order `order_id` placed directly, if there is one.
async fn order_if_any(tx: &mut Tx, order_id: &str) -> Result<Option<Order>, ApiError> {
    match placed_order(tx, order_id).await {
        Ok(order) => Ok(Some(order)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// An order placed directly, confirmed for the saga that began invoicing it, at the
/// version it invoiced; refused once the order changed, was cancelled, or another saga
/// confirmed it. `records` are the barrier's records of the saga.
pub(crate) fn confirmed(
    records: &Records,
    confirm: &ConfirmOrder,
    order: &Order,
) -> Result<Order, ApiError> {
    let version = confirm.version.ok_or_else(|| {
        ApiError::invalid("version", "must be given for an order placed directly")
    })?;
    if !records.recorded(&confirm.saga_id, BEGIN_INVOICING) {
        return Err(ApiError::Refused(format!(
            "the saga did not begin invoicing order {:?}",
            order.order_id
        )));
    }
    if order.status == OrderStatus::Confirmed
        && order.confirmed_by.as_ref() == Some(&confirm.saga_id)
    {
        return Ok(order.clone());
    }
    pending(order, "confirmed")?;
    at_version(order, version)?;
    Ok(plan::left_pending(
        order,
        OrderStatus::Confirmed,
        Some(&confirm.saga_id),
    ))
}

/// The order `order_id`, which must have been placed directly.
async fn placed_order(tx: &mut Tx, order_id: &str) -> Result<Order, ApiError> {
    let order = store::order_by_id(&mut *tx, order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "order",
            id: order_id.to_string(),
        })?;
    match order.creating_saga() {
        None => Ok(order),
        Some(saga_id) => Err(ApiError::Refused(format!(
            "order {order_id:?} belongs to saga {saga_id:?}"
        ))),
    }
}

/// Refuses to have `order` `done` unless it is PENDING.
fn pending(order: &Order, done: &str) -> Result<(), ApiError> {
    match order.status {
        OrderStatus::Pending => Ok(()),
        status => Err(ApiError::Refused(format!(
            "order {:?} is {} and cannot be {done}",
            order.order_id,
            status.as_str()
        ))),
    }
}

/// Refuses a saga's step on another version of `order` than its own.
fn at_version(order: &Order, version: u64) -> Result<(), ApiError> {
    match order.version == version {
        true => Ok(()),
        false => Err(ApiError::Refused(format!(
            "order {:?} changed: it is at version {}, not {version}",
            order.order_id, order.version
        ))),
    }
}

/// Moves the PENDING `order` to `status` (confirmed by `confirmed_by`, for an order
/// placed directly), and `order` with it; refused when a concurrent write (another
/// orders-svc on the same database) changed it first: the call's retry reads it anew.
async fn leave_pending(
    tx: &mut Tx,
    order: &mut Order,
    status: OrderStatus,
    confirmed_by: Option<&str>,
) -> Result<(), ApiError> {
    let now_ms = db::now_ms();
    let changed = store::leave_pending(
        tx,
        &order.order_id,
        order.version,
        status,
        confirmed_by,
        now_ms,
    )
    .await?;
    if !changed {
        return Err(changed_meanwhile(order));
    }
    order.status = status;
    order.confirmed_by = confirmed_by.map(str::to_string);
    order.updated_at_ms = now_ms;
    Ok(())
}

fn changed_meanwhile(order: &Order) -> ApiError {
    ApiError::Refused(format!("order {:?} changed meanwhile", order.order_id))
}

/// Cancels the PENDING `order` and emits `order-cancelled`.
async fn cancel(tx: &mut Tx, mut order: Order) -> Result<proto::Order, ApiError> {
    leave_pending(tx, &mut order, OrderStatus::Cancelled, None).await?;
    emit(tx, EventType::Cancelled, order).await
}

/// Records that `happened` to `order` in the outbox and answers the order.
async fn emit(tx: &mut Tx, happened: EventType, order: Order) -> Result<proto::Order, ApiError> {
    let answer = proto::Order::from(order);
    outbox::record(&mut *tx, happened, &answer, answer.updated_at_ms).await?;
    Ok(answer)
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
