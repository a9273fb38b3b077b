//! The orders a run places: the nth order of a run, the share over the invoice limit, and
//! the keys that tell this run's sagas and floor records apart from everything else.

use saga_contracts::invoices::v1::CreateInvoiceRequest;
use saga_contracts::orders::v1 as orders;
use saga_contracts::saga::v1::{LineItem, PlaceOrderRequest, StartSagaRequest};
use serde_json::json;

/// Currency of every order.
pub const CURRENCY: &str = "EUR";
/// Over `invoices-svc`'s default `--max-invoice-cents` (1,000,000), so it compensates.
const OVER_LIMIT_UNIT_CENTS: i64 = 1_000_000;
/// Customers the orders are spread over.
const CUSTOMERS: u64 = 64;

/// What one run places, and the names that mark its records.
#[derive(Debug, Clone)]
pub struct Workload {
    run_id: String,
    compensate_share: f64,
}

/// One order of a run, independent of the API it goes through.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub customer_id: String,
    /// (sku, quantity, unit price in cents).
    pub items: Vec<(&'static str, u32, i64)>,
    pub total_cents: i64,
    /// Whether the invoice will be refused, so the saga must compensate.
    pub compensates: bool,
}

impl Workload {
    /// A workload whose records are marked with `run_id`.
    pub fn new(run_id: &str, compensate_share: f64) -> Self {
        Self {
            run_id: run_id.to_string(),
            compensate_share,
        }
    }

    /// The run's id, part of every key and floor saga id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Whether the nth order goes over the limit: spread evenly, so that any prefix of
    /// the run holds the share (within one order).
    pub fn compensates(&self, n: u64) -> bool {
        let share = self.compensate_share;
        // Exact for the counts a run can reach (well under 2^52).
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let before = |k: u64| (k as f64 * share).floor() as u64;
        before(n + 1) > before(n)
    }

    /// The nth order of the run.
    pub fn order(&self, n: u64) -> Order {
        let customer_id = format!("bench-customer-{}", n % CUSTOMERS);
        let items = if self.compensates(n) {
            vec![("sku-espresso-machine", 2, OVER_LIMIT_UNIT_CENTS)]
        } else {
            let quantity = 1 + u32::try_from(n % 3).unwrap_or(0);
            let price = 1_250 + i64::try_from(n % 100).unwrap_or(0);
            vec![("sku-coffee", quantity, price), ("sku-mug", 1, 899)]
        };
        let total_cents = items
            .iter()
            .map(|(_, quantity, price)| i64::from(*quantity) * price)
            .sum();
        Order {
            customer_id,
            compensates: self.compensates(n),
            items,
            total_cents,
        }
    }

    /// Prefix of the idempotency keys of the run's sagas.
    pub fn key_prefix(&self) -> String {
        format!("bench-{}-", self.run_id)
    }

    /// Prefix of the saga ids the floor uses on the participants.
    pub fn floor_prefix(&self) -> String {
        format!("{FLOOR_PREFIX}{}-", self.run_id)
    }

    /// The nth saga's PlaceOrder request (it waits for the saga to end).
    pub fn place_order(&self, n: u64) -> PlaceOrderRequest {
        let order = self.order(n);
        PlaceOrderRequest {
            idempotency_key: format!("{}{n}", self.key_prefix()),
            customer_id: order.customer_id,
            items: order
                .items
                .iter()
                .map(|(sku, quantity, unit_price_cents)| LineItem {
                    sku: (*sku).to_string(),
                    quantity: *quantity,
                    unit_price_cents: *unit_price_cents,
                })
                .collect(),
            currency: CURRENCY.to_string(),
            wait_ms: 0,
        }
    }

    /// The nth saga's StartSaga request of the four-step example (it waits for the saga
    /// to end): the same order as input, with its total.
    pub fn start_saga(&self, n: u64) -> StartSagaRequest {
        let order = self.order(n);
        let items: Vec<_> = order
            .items
            .iter()
            .map(|(sku, quantity, unit_price_cents)| {
                json!({"sku": sku, "quantity": quantity, "unit_price_cents": unit_price_cents})
            })
            .collect();
        let input = json!({
            "customer_id": order.customer_id,
            "items": items,
            "currency": CURRENCY,
            "total_cents": order.total_cents,
        });
        StartSagaRequest {
            definition: saga_tests::stock::NAME.to_string(),
            version: 0,
            idempotency_key: format!("{}{n}", self.key_prefix()),
            input_json: input.to_string(),
            wait_ms: 0,
        }
    }

    /// The nth floor order's saga id and CreateOrder request.
    pub fn create_order(&self, n: u64) -> (String, orders::CreateOrderRequest, Order) {
        let order = self.order(n);
        let saga_id = format!("{}{n}", self.floor_prefix());
        let request = orders::CreateOrderRequest {
            saga_id: saga_id.clone(),
            customer_id: order.customer_id.clone(),
            items: order
                .items
                .iter()
                .map(|(sku, quantity, unit_price_cents)| orders::LineItem {
                    sku: (*sku).to_string(),
                    quantity: *quantity,
                    unit_price_cents: *unit_price_cents,
                })
                .collect(),
            currency: CURRENCY.to_string(),
        };
        (saga_id, request, order)
    }
}

/// Start of every floor saga id, of this run or an earlier one.
pub const FLOOR_PREFIX: &str = "floor-";

/// The CreateInvoice request for a created order.
pub fn create_invoice(saga_id: &str, order_id: &str, order: &Order) -> CreateInvoiceRequest {
    CreateInvoiceRequest {
        saga_id: saga_id.to_string(),
        order_id: order_id.to_string(),
        customer_id: order.customer_id.clone(),
        amount_cents: order.total_cents,
        currency: CURRENCY.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share_of(workload: &Workload, n: u64) -> usize {
        (0..n).filter(|&i| workload.compensates(i)).count()
    }

    #[test]
    fn the_compensating_share_is_spread_evenly() {
        let tenth = Workload::new("r", 0.1);
        assert_eq!(share_of(&tenth, 1_000), 100);
        assert_eq!(share_of(&tenth, 10), 1);
        assert_eq!(share_of(&Workload::new("r", 0.0), 1_000), 0);
        assert_eq!(share_of(&Workload::new("r", 1.0), 1_000), 1_000);
        assert_eq!(share_of(&Workload::new("r", 0.25), 8), 2);
    }

    #[test]
    fn over_limit_orders_total_more_than_the_default_limit_and_others_less() {
        let workload = Workload::new("r", 0.5);
        for n in 0..100 {
            let order = workload.order(n);
            assert_eq!(
                order.total_cents > 1_000_000,
                order.compensates,
                "order {n}"
            );
        }
    }

    #[test]
    fn keys_and_floor_ids_carry_the_run_id() {
        let workload = Workload::new("abc", 0.0);
        assert_eq!(workload.place_order(7).idempotency_key, "bench-abc-7");
        let (saga_id, request, order) = workload.create_order(7);
        assert_eq!(saga_id, "floor-abc-7");
        assert_eq!(request.saga_id, saga_id);
        assert_eq!(
            create_invoice(&saga_id, "o-1", &order).amount_cents,
            order.total_cents
        );
    }
}
