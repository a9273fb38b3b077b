//! The gRPC edge's conversions: requests into validated domain values (each error names
//! the offending field), domain values back into wire messages.

use saga_contracts::orders::v1 as proto;
use service_kit::paging;
use service_kit::participant::validate::{
    MAX_SAGA_ID_BYTES, bounded, currency, optional, page_token, required, saga_id,
};

use crate::domain::{
    CancelOrder, ConfirmOrder, LineItem, NewOrder, Order, OrderFilter, OrderStatus,
};
use crate::error::ApiError;

/// Longest accepted saga or customer id, in bytes: a customer id is held to the
/// saga id's bound.
pub const MAX_ID_BYTES: usize = MAX_SAGA_ID_BYTES;

impl TryFrom<proto::CreateOrderRequest> for NewOrder {
    type Error = ApiError;

    fn try_from(request: proto::CreateOrderRequest) -> Result<Self, ApiError> {
        let saga_id = saga_id(request.saga_id)?;
        let customer_id = bounded("customer_id", request.customer_id, MAX_ID_BYTES)?;
        if request.items.is_empty() {
            return Err(ApiError::invalid("items", "must not be empty"));
        }
        let items = request
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| line_item(i, item))
            .collect::<Result<Vec<_>, _>>()?;
        let total_cents = items
            .iter()
            .try_fold(0_i64, |total, item| {
                i64::from(item.quantity)
                    .checked_mul(item.unit_price_cents)
                    .and_then(|line| total.checked_add(line))
            })
            .ok_or_else(|| ApiError::invalid("items", "the total overflows"))?;
        let currency = currency(request.currency)?;
        Ok(Self {
            saga_id,
            customer_id,
            items,
            total_cents,
            currency,
        })
    }
}

impl TryFrom<proto::ConfirmOrderRequest> for ConfirmOrder {
    type Error = ApiError;

    fn try_from(request: proto::ConfirmOrderRequest) -> Result<Self, ApiError> {
        Ok(Self {
            saga_id: saga_id(request.saga_id)?,
            order_id: required("order_id", request.order_id)?,
        })
    }
}

impl TryFrom<proto::CancelOrderRequest> for CancelOrder {
    type Error = ApiError;

    fn try_from(request: proto::CancelOrderRequest) -> Result<Self, ApiError> {
        Ok(Self {
            saga_id: saga_id(request.saga_id)?,
            order_id: optional(request.order_id),
        })
    }
}

impl TryFrom<proto::ListOrdersRequest> for OrderFilter {
    type Error = ApiError;

    fn try_from(request: proto::ListOrdersRequest) -> Result<Self, ApiError> {
        let status = match proto::OrderStatus::try_from(request.status) {
            Ok(proto::OrderStatus::Unspecified) => None,
            Ok(proto::OrderStatus::Pending) => Some(OrderStatus::Pending),
            Ok(proto::OrderStatus::Confirmed) => Some(OrderStatus::Confirmed),
            Ok(proto::OrderStatus::Cancelled) => Some(OrderStatus::Cancelled),
            Err(_) => return Err(ApiError::invalid("status", "is not a known order status")),
        };
        Ok(Self {
            customer_id: optional(request.customer_id),
            status,
            saga_id: optional(request.saga_id),
            after_seq: page_token(&request.page_token)?,
            page_size: paging::page_size(request.page_size),
        })
    }
}

/// The order id of a `GetOrder`, which must not be empty.
pub fn order_id(request: proto::GetOrderRequest) -> Result<String, ApiError> {
    required("order_id", request.order_id)
}

fn line_item(index: usize, item: proto::LineItem) -> Result<LineItem, ApiError> {
    let field = |name: &str| format!("items[{index}].{name}");
    if item.sku.is_empty() {
        return Err(ApiError::invalid(field("sku"), "must not be empty"));
    }
    if item.quantity == 0 {
        return Err(ApiError::invalid(field("quantity"), "must be positive"));
    }
    if item.unit_price_cents <= 0 {
        return Err(ApiError::invalid(
            field("unit_price_cents"),
            "must be positive",
        ));
    }
    Ok(LineItem {
        sku: item.sku,
        quantity: item.quantity,
        unit_price_cents: item.unit_price_cents,
    })
}

impl From<OrderStatus> for proto::OrderStatus {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Pending => Self::Pending,
            OrderStatus::Confirmed => Self::Confirmed,
            OrderStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<Order> for proto::Order {
    fn from(order: Order) -> Self {
        Self {
            order_id: order.order_id,
            customer_id: order.customer_id,
            items: order
                .items
                .into_iter()
                .map(|item| proto::LineItem {
                    sku: item.sku,
                    quantity: item.quantity,
                    unit_price_cents: item.unit_price_cents,
                })
                .collect(),
            total_cents: order.total_cents,
            currency: order.currency,
            status: proto::OrderStatus::from(order.status).into(),
            saga_id: order.saga_id,
        }
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
