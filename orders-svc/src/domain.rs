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

/// An order as the participant keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub saga_id: String,
    pub customer_id: String,
    pub items: Vec<LineItem>,
    pub total_cents: i64,
    pub currency: String,
    pub status: OrderStatus,
}

/// A validated `CreateOrder`: every field checked, the total computed without overflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub saga_id: String,
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
            saga_id: self.saga_id,
            customer_id: self.customer_id,
            items: self.items,
            total_cents: self.total_cents,
            currency: self.currency,
            status: OrderStatus::Pending,
        }
    }
}

/// A validated `ConfirmOrder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmOrder {
    pub saga_id: String,
    pub order_id: String,
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
    /// Continue after this `seq` (absent: the first page).
    pub after_seq: Option<i64>,
    pub page_size: u32,
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
