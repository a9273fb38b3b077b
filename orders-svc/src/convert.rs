//! The gRPC edge's conversions: requests into validated domain values (each error names
//! the offending field), domain values back into wire messages.

use saga_contracts::orders::v1 as proto;
use service_kit::paging;
use service_kit::participant::validate::{
    MAX_SAGA_ID_BYTES, bounded, currency, optional, page_token, required, saga_id,
};

use crate::domain::{
    After, CancelOrder, ConfirmOrder, Invoicing, LineItem, Lines, NewOrder, Order, OrderFilter,
    OrderStatus, Origin, UpdateOrder,
};
use crate::error::ApiError;

/// Longest accepted saga or customer id, in bytes: a customer id is held to the
/// saga id's bound.
pub const MAX_ID_BYTES: usize = MAX_SAGA_ID_BYTES;

impl TryFrom<proto::CreateOrderRequest> for NewOrder {
    type Error = ApiError;

    fn try_from(request: proto::CreateOrderRequest) -> Result<Self, ApiError> {
        let origin = Origin::Saga(saga_id(request.saga_id)?);
        new_order(origin, request.customer_id, request.items, request.currency)
    }
}

impl TryFrom<proto::PlaceOrderRequest> for NewOrder {
    type Error = ApiError;

    fn try_from(request: proto::PlaceOrderRequest) -> Result<Self, ApiError> {
        let key = bounded("idempotency_key", request.idempotency_key, MAX_ID_BYTES)?;
        new_order(
            Origin::Direct(key),
            request.customer_id,
            request.items,
            request.currency,
        )
    }
}

fn new_order(
    origin: Origin,
    customer_id: String,
    items: Vec<proto::LineItem>,
    currency_code: String,
) -> Result<NewOrder, ApiError> {
    let customer_id = bounded("customer_id", customer_id, MAX_ID_BYTES)?;
    let Lines { items, total_cents } = lines(items)?;
    Ok(NewOrder {
        origin,
        customer_id,
        items,
        total_cents,
        currency: currency(currency_code)?,
    })
}

/// The checked items and their total, computed without overflow.
fn lines(items: Vec<proto::LineItem>) -> Result<Lines, ApiError> {
    if items.is_empty() {
        return Err(ApiError::invalid("items", "must not be empty"));
    }
    let items = items
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
    Ok(Lines { items, total_cents })
}

impl TryFrom<proto::UpdateOrderRequest> for UpdateOrder {
    type Error = ApiError;

    fn try_from(request: proto::UpdateOrderRequest) -> Result<Self, ApiError> {
        Ok(Self {
            order_id: required("order_id", request.order_id)?,
            lines: lines(request.items)?,
            version: version(request.version)?,
        })
    }
}

impl TryFrom<proto::BeginInvoicingRequest> for Invoicing {
    type Error = ApiError;

    fn try_from(request: proto::BeginInvoicingRequest) -> Result<Self, ApiError> {
        invoicing(request.saga_id, request.order_id, request.version)
    }
}

impl TryFrom<proto::RejectOrderRequest> for Invoicing {
    type Error = ApiError;

    fn try_from(request: proto::RejectOrderRequest) -> Result<Self, ApiError> {
        invoicing(request.saga_id, request.order_id, request.version)
    }
}

fn invoicing(saga: String, order_id: String, given: u64) -> Result<Invoicing, ApiError> {
    Ok(Invoicing {
        saga_id: saga_id(saga)?,
        order_id: required("order_id", order_id)?,
        version: version(given)?,
    })
}

/// An order version, which counts from 1.
fn version(version: u64) -> Result<u64, ApiError> {
    match version {
        0 => Err(ApiError::invalid("version", "must be positive")),
        _ => Ok(version),
    }
}

impl TryFrom<proto::ConfirmOrderRequest> for ConfirmOrder {
    type Error = ApiError;

    fn try_from(request: proto::ConfirmOrderRequest) -> Result<Self, ApiError> {
        Ok(Self {
            saga_id: saga_id(request.saga_id)?,
            order_id: required("order_id", request.order_id)?,
            version: (request.version > 0).then_some(request.version),
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
        let direct = match proto::OrderOrigin::try_from(request.origin) {
            Ok(proto::OrderOrigin::Unspecified) => None,
            Ok(proto::OrderOrigin::Saga) => Some(false),
            Ok(proto::OrderOrigin::Direct) => Some(true),
            Err(_) => return Err(ApiError::invalid("origin", "is not a known order origin")),
        };
        let after = match request.changed_after {
            None => After::Seq(page_token(&request.page_token)?),
            Some(_) if !request.page_token.is_empty() => {
                return Err(ApiError::invalid(
                    "page_token",
                    "must be empty with changed_after: continue after the last order",
                ));
            }
            Some(cursor) => After::Change {
                updated_at_ms: cursor.updated_at_ms,
                order_id: cursor.order_id,
            },
        };
        Ok(Self {
            customer_id: optional(request.customer_id),
            status,
            saga_id: optional(request.saga_id),
            direct,
            after,
            page_size: paging::page_size(request.page_size),
        })
    }
}

/// The order id of a `WithdrawOrder`, which must not be empty.
pub fn withdrawn_order_id(request: proto::WithdrawOrderRequest) -> Result<String, ApiError> {
    required("order_id", request.order_id)
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
    if service_kit::text::has_control(&item.sku) {
        return Err(ApiError::invalid(
            field("sku"),
            service_kit::text::CONTROL_CHARACTER,
        ));
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
        let (saga_id, idempotency_key) = match order.origin {
            Origin::Saga(saga_id) => (saga_id, String::new()),
            Origin::Direct(key) => (String::new(), key),
        };
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
            saga_id,
            version: order.version,
            updated_at_ms: order.updated_at_ms,
            idempotency_key,
        }
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
