//! The orders' saga calls (create, confirm, cancel) as a write plan: a batch reads the
//! orders its calls name with one statement, each call is decided in memory over them
//! (seeing what the calls before it in the batch decided), and the batch writes its new
//! orders and its orders' changes with one statement each. The rules are those of each
//! call alone: see [`crate::service`].

use std::collections::HashMap;

use prost::Message;
use saga_contracts::orders::v1 as proto;
use service_kit::barrier::{Entry, Step, StepKind};
use service_kit::db::{self, GroupWriter, Tx, TxFuture};
use service_kit::write_plan::{Records, WritePlan};
use tracing::info;

use crate::direct;
use crate::domain::{CancelOrder, ConfirmOrder, NewOrder, Order, OrderStatus};
use crate::error::ApiError;
use crate::store::{self, Leave};

pub(crate) const CREATE_ORDER: &str = "create_order";
pub(crate) const CONFIRM_ORDER: &str = "confirm_order";
pub(crate) const CANCEL_ORDER: &str = "cancel_order";

/// A saga's call on its order.
#[derive(Debug)]
pub enum Call {
    /// `new` comes from the saga `saga_id`.
    Create {
        saga_id: String,
        new: NewOrder,
    },
    Confirm(ConfirmOrder),
    Cancel(CancelOrder),
}

/// The orders participant's writer: its saga calls planned, the other writes as code.
pub type Writer = GroupWriter<OrdersPlan>;

/// The plan of the orders participant's saga calls.
#[derive(Debug, Default)]
pub struct OrdersPlan;

/// A batch's orders: those it read, those it created, and what changed.
#[derive(Debug, Default)]
pub struct View {
    slots: Vec<Slot>,
    by_id: HashMap<String, usize>,
    by_saga: HashMap<String, usize>,
}

#[derive(Debug)]
struct Slot {
    order: Order,
    /// The version it was read at; `None` for an order this batch creates.
    read_at: Option<u64>,
    changed: bool,
}

impl View {
    fn add(&mut self, order: Order, read_at: Option<u64>) {
        let slot = self.slots.len();
        self.by_id.insert(order.order_id.clone(), slot);
        if let Some(saga_id) = order.creating_saga() {
            self.by_saga.insert(saga_id.to_string(), slot);
        }
        self.slots.push(Slot {
            order,
            read_at,
            changed: read_at.is_none(),
        });
    }

    fn by_id(&self, order_id: &str) -> Option<(usize, &Order)> {
        let slot = *self.by_id.get(order_id)?;
        Some((slot, &self.slots.get(slot)?.order))
    }

    fn by_saga(&self, saga_id: &str) -> Option<(usize, &Order)> {
        let slot = *self.by_saga.get(saga_id)?;
        Some((slot, &self.slots.get(slot)?.order))
    }

    /// Replaces the order in `slot` with its next state.
    fn put(&mut self, slot: usize, order: Order) {
        if let Some(slot) = self.slots.get_mut(slot) {
            slot.order = order;
            slot.changed = true;
        }
    }
}

impl WritePlan for OrdersPlan {
    type Request = Call;
    type Error = ApiError;
    type View = View;

    fn step(call: &Call) -> Step<'_> {
        match call {
            Call::Create { saga_id, .. } => Step {
                saga_id,
                op: CREATE_ORDER,
                kind: StepKind::Action {
                    undone_by: Some(CANCEL_ORDER),
                },
            },
            Call::Confirm(confirm) => Step {
                saga_id: &confirm.saga_id,
                op: CONFIRM_ORDER,
                kind: StepKind::Action { undone_by: None },
            },
            Call::Cancel(cancel) => Step {
                saga_id: &cancel.saga_id,
                op: CANCEL_ORDER,
                kind: StepKind::Compensation {
                    undoes: CREATE_ORDER,
                },
            },
        }
    }

    fn read<'t>(
        &'t self,
        tx: &'t mut Tx,
        calls: &'t [Call],
    ) -> TxFuture<'t, Result<View, sqlx::Error>> {
        Box::pin(async move {
            let mut view = View::default();
            let ids: Vec<&str> = calls
                .iter()
                .filter_map(|call| match call {
                    Call::Confirm(confirm) => Some(confirm.order_id.as_str()),
                    _ => None,
                })
                .collect();
            let sagas: Vec<&str> = calls
                .iter()
                .filter_map(|call| match call {
                    Call::Cancel(cancel) => Some(cancel.saga_id.as_str()),
                    _ => None,
                })
                .collect();
            for order in store::orders_by_ids_or_sagas(tx, &ids, &sagas).await? {
                let version = order.version;
                view.add(order, Some(version));
            }
            Ok(view)
        })
    }

    fn decide(
        &self,
        view: &mut View,
        records: &Records,
        call: Call,
        entry: Entry,
    ) -> Result<Vec<u8>, ApiError> {
        match call {
            Call::Create { new, .. } => create(view, new, entry),
            Call::Confirm(confirm) => confirm_order(view, records, &confirm, entry),
            Call::Cancel(cancel) => cancel_order(view, &cancel, entry),
        }
    }

    fn write<'t>(&'t self, tx: &'t mut Tx, view: View) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let changed = view.slots.iter().filter(|slot| slot.changed);
            let (created, read): (Vec<&Slot>, Vec<&Slot>) =
                changed.partition(|slot| slot.read_at.is_none());
            let created: Vec<&Order> = created.iter().map(|slot| &slot.order).collect();
            store::insert_orders(tx, &created).await?;
            let leaves: Vec<Leave> = read
                .iter()
                .filter_map(|slot| {
                    Some(Leave {
                        order_id: &slot.order.order_id,
                        version: slot.read_at?,
                        status: slot.order.status,
                        confirmed_by: slot.order.confirmed_by.as_deref(),
                        updated_at_ms: slot.order.updated_at_ms,
                    })
                })
                .collect();
            let moved = store::leave_pending_all(tx, &leaves).await?;
            // Unless all moved, another orders-svc on the database changed one of them
            // since it was read: the whole batch fails, and its callers retry and read
            // anew.
            tx.require_changes(moved, leaves.len() as u64)
        })
    }
}

/// Creates the saga's PENDING order; refused once the saga's order was cancelled.
fn create(view: &mut View, new: NewOrder, entry: Entry) -> Result<Vec<u8>, ApiError> {
    if entry != Entry::First {
        // NothingToUndo is only ever the answer to a compensation; refuse rather than act.
        return Err(ApiError::Refused(
            "the saga's order was already cancelled".to_string(),
        ));
    }
    let mut order = new.into_order(uuid::Uuid::new_v4().to_string());
    order.updated_at_ms = db::now_ms();
    let answer = proto::Order::from(order.clone());
    info!(order.id = %answer.order_id, total_cents = answer.total_cents, "order created PENDING");
    view.add(order, None);
    Ok(answer.encode_to_vec())
}

/// Confirms the saga's order (or, for an order placed directly, the one the saga began
/// invoicing); refused when it belongs to another saga or was cancelled.
fn confirm_order(
    view: &mut View,
    records: &Records,
    confirm: &ConfirmOrder,
    entry: Entry,
) -> Result<Vec<u8>, ApiError> {
    if entry != Entry::First {
        // Neither is ever the answer to an action that nothing undoes.
        return Err(ApiError::Refused(
            "the saga's order cannot be confirmed".to_string(),
        ));
    }
    let (slot, order) = view
        .by_id(&confirm.order_id)
        .ok_or_else(|| ApiError::NotFound {
            what: "order",
            id: confirm.order_id.clone(),
        })?;
    let next = match order.creating_saga() {
        Some(_) => confirm_own(confirm, order)?,
        None => direct::confirmed(records, confirm, order)?,
    };
    let changed = next != *order;
    let answer = proto::Order::from(next.clone());
    if changed {
        view.put(slot, next);
    }
    info!(order.id = %answer.order_id, "order CONFIRMED");
    Ok(answer.encode_to_vec())
}

/// The order the saga created, confirmed; refused for another saga's or a cancelled one.
fn confirm_own(confirm: &ConfirmOrder, order: &Order) -> Result<Order, ApiError> {
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
        OrderStatus::Confirmed => Ok(order.clone()),
        OrderStatus::Pending => Ok(left_pending(order, OrderStatus::Confirmed, None)),
    }
}

/// Cancels the saga's order, or leaves a tombstone when the saga never created one;
/// refused once the order is confirmed.
fn cancel_order(view: &mut View, cancel: &CancelOrder, entry: Entry) -> Result<Vec<u8>, ApiError> {
    if entry != Entry::First {
        // AlreadyCompensated is only ever the answer to an action; a compensation has
        // nothing to undo then either.
        info!("no order to cancel; tombstone left");
        return Ok(proto::CancelOrderResponse { order: None }.encode_to_vec());
    }
    let (slot, order) = view
        .by_saga(&cancel.saga_id)
        .ok_or_else(|| ApiError::NotFound {
            what: "order of saga",
            id: cancel.saga_id.clone(),
        })?;
    if let Some(order_id) = cancel.order_id.as_ref().filter(|id| **id != order.order_id) {
        return Err(ApiError::Refused(format!(
            "order {order_id:?} is not the saga's order"
        )));
    }
    let order = match order.status {
        OrderStatus::Confirmed => {
            return Err(ApiError::Refused(format!(
                "order {:?} is already confirmed",
                order.order_id
            )));
        }
        OrderStatus::Cancelled => order.clone(),
        OrderStatus::Pending => {
            let cancelled = left_pending(order, OrderStatus::Cancelled, None);
            info!(order.id = %cancelled.order_id, "order CANCELLED");
            view.put(slot, cancelled.clone());
            cancelled
        }
    };
    Ok(proto::CancelOrderResponse {
        order: Some(order.into()),
    }
    .encode_to_vec())
}

/// `order`, PENDING, moved to `status` now (confirmed by `confirmed_by`, for an order
/// placed directly).
pub(crate) fn left_pending(
    order: &Order,
    status: OrderStatus,
    confirmed_by: Option<&str>,
) -> Order {
    Order {
        status,
        confirmed_by: confirmed_by.map(str::to_string),
        updated_at_ms: db::now_ms(),
        ..order.clone()
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
