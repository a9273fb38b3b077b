//! The orders participant's own types, apart from their wire (proto) and storage forms.

use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Created by a saga, not yet confirmed or cancelled.
    Pending,
    /// Confirmed: the saga went through; it can no longer be cancelled.
    Confirmed,
    /// Cancelled by the saga's compensation; it can no longer be confirmed.
    Cancelled,
}

impl OrderStatus {
    const ALL: [Self; 3] = [Self::Pending, Self::Confirmed, Self::Cancelled];

    /// The text stored in `orders.status` (the only place that spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// One line of an order. The field names are also the stored JSON form of `orders.items`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// Who made an order: a saga (`CreateOrder`) or a client directly (`PlaceOrder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Created by this saga, which alone confirms or cancels it.
    Saga(String),
    /// Placed with this idempotency key; its invoicing sagas confirm or reject it.
    Direct(String),
}

/// An order as the participant keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub origin: Origin,
    pub customer_id: String,
    pub items: Vec<LineItem>,
    pub total_cents: i64,
    pub currency: String,
    pub status: OrderStatus,
    /// 1 when placed; raised by every change of its items.
    pub version: u64,
    /// The saga that confirmed an order placed directly.
    pub confirmed_by: Option<String>,
    /// Stamped by the store on every write.
    pub updated_at_ms: i64,
}

impl Order {
    /// The saga that created the order, if one did.
    pub fn creating_saga(&self) -> Option<&str> {
        match &self.origin {
            Origin::Saga(saga_id) => Some(saga_id),
            Origin::Direct(_) => None,
        }
    }
}

/// What an order's items come to: the items, checked, and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lines {
    pub items: Vec<LineItem>,
    pub total_cents: i64,
}

/// A validated `CreateOrder` (origin a saga) or `PlaceOrder` (origin a client): every
/// field checked, the total computed without overflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub origin: Origin,
    pub customer_id: String,
    pub items: Vec<LineItem>,
    pub total_cents: i64,
    pub currency: String,
}

impl NewOrder {
    /// The PENDING order this request creates, under a fresh id.
    pub fn into_order(self, order_id: String) -> Order {
        Order {
            order_id,
            origin: self.origin,
            customer_id: self.customer_id,
            items: self.items,
            total_cents: self.total_cents,
            currency: self.currency,
            status: OrderStatus::Pending,
            version: 1,
            confirmed_by: None,
            updated_at_ms: 0,
        }
    }
}

/// The request fields a `PlaceOrder` is told from another by, as stored with its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedAs {
    pub customer_id: String,
    pub items: Vec<LineItem>,
    pub currency: String,
}

impl PlacedAs {
    /// The fields of `new`.
    pub fn of(new: &NewOrder) -> Self {
        Self {
            customer_id: new.customer_id.clone(),
            items: new.items.clone(),
            currency: new.currency.clone(),
        }
    }
}

/// A validated `UpdateOrder`: new items for a PENDING order at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOrder {
    pub order_id: String,
    pub lines: Lines,
    pub version: u64,
}

/// A validated `ConfirmOrder`; `version` is given for an order placed directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmOrder {
    pub saga_id: String,
    pub order_id: String,
    pub version: Option<u64>,
}

/// A validated `BeginInvoicing` or `RejectOrder`: one saga invoicing one version of an
/// order placed directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoicing {
    pub saga_id: String,
    pub order_id: String,
    pub version: u64,
}

/// What an outbox event says happened to an order placed directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Created,
    Updated,
    Cancelled,
}

impl EventType {
    /// The event's `type`, as stored, published and streamed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "order-created",
            Self::Updated => "order-updated",
            Self::Cancelled => "order-cancelled",
        }
    }
}

/// A validated `CancelOrder`; `order_id` is absent when the orchestrator never learned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOrder {
    pub saga_id: String,
    pub order_id: Option<String>,
}

/// A validated `ListOrders`: each filter absent means "any".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFilter {
    pub customer_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub saga_id: Option<String>,
    /// Only orders a saga created (`Some(false)`) or placed directly (`Some(true)`).
    pub direct: Option<bool>,
    pub after: After,
    pub page_size: u32,
}

/// Where a listing continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// After this `seq`, in `seq` order (absent: the first page).
    Seq(Option<i64>),
    /// After this change, in (updated_at_ms, order_id) order.
    Change {
        updated_at_ms: i64,
        order_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_stored_text() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_stored(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::from_stored("pending"), None);
    }
}
