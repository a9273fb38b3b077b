//! The orchestrator's metrics, by name, recorded through the `metrics` facade and served
//! by `--http-listen` (nothing is recorded without a recorder, as in the tests in
//! process). Counters and histograms are this process's; the gauges are the sagas this
//! process drives (sum them over the replicas). The saga log's commits are
//! `db_commit_duration_seconds` and `db_commit_batch_size` (`service_kit::metrics`).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use saga_definitions::machine::{Operation, SagaStatus};

/// Order events the invoice trigger handled, by `source` (`nats`, `stream`) and `type`.
pub const ORDER_EVENTS: &str = "saga_order_events_total";
/// Order events moved to the dead-letter stream (undecodable, or of no use).
pub const DEAD_LETTERS: &str = "saga_order_events_dead_lettered_total";
/// Orders the sweep started (or found) an invoice-order saga for.
pub const SWEPT_ORDERS: &str = "saga_sync_orders_total";
/// Sagas accepted, by `definition`.
pub const STARTED: &str = "saga_sagas_started_total";
/// Sagas that reached an end, by `definition` and `status` (`completed`, `compensated`,
/// `failed`, `resolved`: a FAILED saga later resolved counts under both). Counted by the
/// replica whose commit ended it, once it knows the commit is durable: an end whose
/// commit answer was lost (the database cut mid-reply) is not counted.
pub const ENDED: &str = "saga_sagas_ended_total";
/// From acceptance to that end, by `definition` and `status`.
pub const SAGA_SECONDS: &str = "saga_saga_duration_seconds";
/// Sagas this process drives now.
pub const IN_FLIGHT: &str = "saga_sagas_in_flight";
/// Of those, the ones whose current call is parked.
pub const PARKED: &str = "saga_sagas_parked";
/// Sagas waiting for a place among those making calls (see `--max-working-sagas`).
pub const QUEUED: &str = "saga_sagas_queued";
/// Calls to participants, by `definition`, `step`, `operation` and `outcome`
/// (`succeeded`, `transient`, `refused`).
pub const CALL_SECONDS: &str = "saga_step_call_duration_seconds";
/// Calls that failed transiently, by `definition`, `step` and `code`: each is retried,
/// unless its step gives up (out of attempts or time) and compensates.
pub const RETRIES: &str = "saga_step_retries_total";
/// Sagas this process claimed, by `kind`: `start` (at its start: its own, and on SQLite
/// every unfinished one), `own` (its own after its lease lapsed), `expired` (any saga
/// whose lease expired: a dead replica's taken over), `operator` (another replica's,
/// for an operator's request).
pub const CLAIMS: &str = "saga_claims_total";
/// Writes refused because another writer had moved the saga on (fencing).
pub const FENCED: &str = "saga_fenced_writes_total";
/// PlaceOrder and StartSaga answered RESOURCE_EXHAUSTED (no room to drive the saga).
pub const STARTS_REFUSED: &str = "saga_starts_refused_total";

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
    describe_counter!(STARTED, Unit::Count, "Sagas accepted, by definition.");
    describe_counter!(
        ENDED,
        Unit::Count,
        "Sagas that reached an end, by definition and status."
    );
    describe_histogram!(
        SAGA_SECONDS,
        Unit::Seconds,
        "Sagas from acceptance to their end, by definition and status."
    );
    describe_gauge!(IN_FLIGHT, Unit::Count, "Sagas this process drives.");
    describe_gauge!(
        PARKED,
        Unit::Count,
        "Sagas this process drives whose current call is parked."
    );
    describe_gauge!(
        QUEUED,
        Unit::Count,
        "Sagas waiting for a place among those making calls."
    );
    describe_histogram!(
        CALL_SECONDS,
        Unit::Seconds,
        "Calls to participants by definition, step, operation and outcome."
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Calls retried after a transient failure, by definition, step and gRPC code."
    );
    describe_counter!(CLAIMS, Unit::Count, "Sagas this process claimed, by kind.");
    describe_counter!(
        FENCED,
        Unit::Count,
        "Saga writes refused because another writer moved the saga on."
    );
    describe_counter!(
        STARTS_REFUSED,
        Unit::Count,
        "Sagas refused RESOURCE_EXHAUSTED at their start."
    );
}

/// A saga moved from `from` to `to`, `age_ms` after it was accepted: counted once it ends.
pub fn saga_moved(definition: &str, from: SagaStatus, to: SagaStatus, age_ms: i64) {
    if from == to || !to.is_terminal() {
        return;
    }
    let status = to.as_str().to_ascii_lowercase();
    let labels = [("definition", definition.to_string()), ("status", status)];
    metrics::counter!(ENDED, &labels).increment(1);
    let seconds = age_ms.max(0) as f64 / 1_000.0;
    metrics::histogram!(SAGA_SECONDS, &labels).record(seconds);
}

/// One call to a participant and how it ended.
pub fn call_made(
    definition: &str,
    step: &str,
    operation: Operation,
    outcome: &'static str,
    seconds: f64,
) {
    if !service_kit::http::recording() {
        return;
    }
    let labels = [
        ("definition", definition.to_string()),
        ("step", step.to_string()),
        ("operation", operation.as_str().to_string()),
        ("outcome", outcome.to_string()),
    ];
    metrics::histogram!(CALL_SECONDS, &labels).record(seconds);
}

/// A call that failed transiently with `code`.
pub fn call_retried(definition: &str, step: &str, code: tonic::Code) {
    if !service_kit::http::recording() {
        return;
    }
    let labels = [
        ("definition", definition.to_string()),
        ("step", step.to_string()),
        ("code", service_kit::metrics::code_name(code).to_string()),
    ];
    metrics::counter!(RETRIES, &labels).increment(1);
}
