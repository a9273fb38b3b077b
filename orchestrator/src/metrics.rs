//! The orchestrator's metrics, by name, recorded through the `metrics` facade and served
//! by `--http-listen` (nothing is recorded without a recorder, as in the tests in
//! process).

use metrics::{Unit, describe_counter};

/// Order events the invoice trigger handled, by `source` (`nats`, `stream`) and `type`.
pub const ORDER_EVENTS: &str = "saga_order_events_total";
/// Order events moved to the dead-letter stream (undecodable, or of no use).
pub const DEAD_LETTERS: &str = "saga_order_events_dead_lettered_total";
/// Orders the sweep started (or found) an invoice-order saga for.
pub const SWEPT_ORDERS: &str = "saga_sync_orders_total";

/// Says what each metric means, for the exporter's `# HELP` lines.
pub fn describe() {
    describe_counter!(
        ORDER_EVENTS,
        Unit::Count,
        "Order events the invoice trigger handled, by source and type."
    );
    describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Order events moved to the dead-letter stream after their last delivery."
    );
    describe_counter!(
        SWEPT_ORDERS,
        Unit::Count,
        "Orders the sync sweep started an invoice-order saga for (or found it started)."
    );
}
