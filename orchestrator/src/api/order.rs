//! The order `PlaceOrder` takes, valid by construction, and the input of the
//! place-order saga it starts.

use serde_json::{Value, json};

/// Longest customer id and SKU accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Most line items in one order.
pub const MAX_ITEMS: usize = 1000;

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_cents: i64,
}

/// A validated order: non-empty, positive amounts, a total that fits in i64 cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    customer_id: String,
    items: Vec<LineItem>,
    currency: String,
    total_cents: i64,
}

/// Why an order was refused; `field` names the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidOrder {
    pub field: String,
    pub reason: &'static str,
}

fn invalid(field: impl Into<String>, reason: &'static str) -> InvalidOrder {
    InvalidOrder {
        field: field.into(),
        reason,
    }
}

impl OrderRequest {
    /// Validates an order; the error names the first field at fault.
    pub fn new(
        customer_id: String,
        items: Vec<LineItem>,
        currency: String,
    ) -> Result<Self, InvalidOrder> {
        if customer_id.trim().is_empty() {
            return Err(invalid("customer_id", "must not be empty"));
        }
        if customer_id.len() > MAX_ID_BYTES {
            return Err(invalid("customer_id", "must be at most 128 bytes"));
        }
        if service_kit::text::has_control(&customer_id) {
            return Err(invalid("customer_id", service_kit::text::CONTROL_CHARACTER));
        }
        if items.is_empty() {
            return Err(invalid("items", "must hold at least one line item"));
        }
        if items.len() > MAX_ITEMS {
            return Err(invalid("items", "must hold at most 1000 line items"));
        }
        let mut total_cents: i64 = 0;
        for (i, item) in items.iter().enumerate() {
            let line = check_item(i, item)?;
            total_cents = total_cents
                .checked_add(line)
                .ok_or_else(|| invalid("items", "the order total overflows"))?;
        }
        if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(invalid(
                "currency",
                "must be three upper-case letters (ISO 4217)",
            ));
        }
        Ok(Self {
            customer_id,
            items,
            currency,
            total_cents,
        })
    }

    /// The place-order saga's input: the order with its total, as the JSON that releases
    /// before definitions stored for it.
    pub fn to_input(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|i| json!({"sku": i.sku, "quantity": i.quantity, "unit_price_cents": i.unit_price_cents}))
            .collect();
        json!({
            "customer_id": self.customer_id,
            "items": items,
            "currency": self.currency,
            "total_cents": self.total_cents,
        })
    }
}

/// Checks one line and returns its amount.
fn check_item(i: usize, item: &LineItem) -> Result<i64, InvalidOrder> {
    if item.sku.trim().is_empty() {
        return Err(invalid(format!("items[{i}].sku"), "must not be empty"));
    }
    if item.sku.len() > MAX_ID_BYTES {
        return Err(invalid(
            format!("items[{i}].sku"),
            "must be at most 128 bytes",
        ));
    }
    if service_kit::text::has_control(&item.sku) {
        return Err(invalid(
            format!("items[{i}].sku"),
            service_kit::text::CONTROL_CHARACTER,
        ));
    }
    if item.quantity == 0 {
        return Err(invalid(
            format!("items[{i}].quantity"),
            "must be at least 1",
        ));
    }
    if item.unit_price_cents <= 0 {
        return Err(invalid(
            format!("items[{i}].unit_price_cents"),
            "must be positive",
        ));
    }
    item.unit_price_cents
        .checked_mul(i64::from(item.quantity))
        .ok_or_else(|| invalid("items", "the order total overflows"))
}
