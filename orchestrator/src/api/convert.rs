//! Conversions between the proto messages and the engine's types; validation of
//! everything that crosses the process boundary happens here.

use crate::definitions::DefinitionInfo;
use std::time::Duration;

use saga_contracts::saga::v1 as pb;

use super::error::ApiError;
use super::order::{InvalidOrder, LineItem, OrderRequest};
use crate::store::{LogEntry, ReplicaRecord, SagaFilter};
use saga_definitions::machine::{Operation, Outcome, SagaStatus};

/// Longest idempotency key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 128;

/// A validated `PlaceOrder`.
#[derive(Debug)]
pub struct PlaceOrder {
    /// `None`: the caller gave no key, so every call starts a new saga.
    pub key: Option<String>,
    pub order: OrderRequest,
    /// `None`: wait until the saga ends.
    pub wait: Option<Duration>,
}

impl TryFrom<pb::PlaceOrderRequest> for PlaceOrder {
    type Error = ApiError;

    fn try_from(request: pb::PlaceOrderRequest) -> Result<Self, ApiError> {
        check_key(&request.idempotency_key)?;
        let items = request
            .items
            .into_iter()
            .map(|i| LineItem {
                sku: i.sku,
                quantity: i.quantity,
                unit_price_cents: i.unit_price_cents,
            })
            .collect();
        let order = OrderRequest::new(request.customer_id, items, request.currency)
            .map_err(|InvalidOrder { field, reason }| ApiError::invalid(field, reason))?;
        Ok(PlaceOrder {
            key: Some(request.idempotency_key).filter(|k| !k.is_empty()),
            order,
            wait: (request.wait_ms > 0).then(|| Duration::from_millis(request.wait_ms.into())),
        })
    }
}

/// A validated `StartSaga`; the input is checked against the definition later.
#[derive(Debug)]
pub struct StartSaga {
    pub definition: String,
    /// `None`: the latest.
    pub version: Option<u32>,
    pub key: Option<String>,
    pub input: serde_json::Value,
    pub wait: Option<Duration>,
}

impl TryFrom<pb::StartSagaRequest> for StartSaga {
    type Error = ApiError;

    fn try_from(request: pb::StartSagaRequest) -> Result<Self, ApiError> {
        if request.definition.is_empty() {
            return Err(ApiError::invalid("definition", "must not be empty"));
        }
        check_key(&request.idempotency_key)?;
        let input = match request.input_json.trim() {
            "" => serde_json::Value::Object(serde_json::Map::new()),
            text => serde_json::from_str(text)
                .map_err(|e| ApiError::invalid("input_json", format!("is not JSON: {e}")))?,
        };
        if !input.is_object() {
            return Err(ApiError::invalid("input_json", "must be a JSON object"));
        }
        Ok(StartSaga {
            definition: request.definition,
            version: (request.version > 0).then_some(request.version),
            key: Some(request.idempotency_key).filter(|k| !k.is_empty()),
            input,
            wait: (request.wait_ms > 0).then(|| Duration::from_millis(request.wait_ms.into())),
        })
    }
}

/// An idempotency key: at most [`MAX_KEY_BYTES`], without control characters (empty:
/// no deduplication).
fn check_key(key: &str) -> Result<(), ApiError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::invalid(
            "idempotency_key",
            "must be at most 128 bytes",
        ));
    }
    if service_kit::text::has_control(key) {
        return Err(ApiError::invalid(
            "idempotency_key",
            service_kit::text::CONTROL_CHARACTER,
        ));
    }
    Ok(())
}

/// The status filter of `ListSagas`: `None` lists every status.
pub fn status_filter(value: i32) -> Result<Option<SagaStatus>, ApiError> {
    match pb::SagaStatus::try_from(value) {
        Ok(pb::SagaStatus::Unspecified) => Ok(None),
        Ok(pb::SagaStatus::Running) => Ok(Some(SagaStatus::Running)),
        Ok(pb::SagaStatus::Compensating) => Ok(Some(SagaStatus::Compensating)),
        Ok(pb::SagaStatus::Completed) => Ok(Some(SagaStatus::Completed)),
        Ok(pb::SagaStatus::Compensated) => Ok(Some(SagaStatus::Compensated)),
        Ok(pb::SagaStatus::Failed) => Ok(Some(SagaStatus::Failed)),
        Ok(pb::SagaStatus::Resolved) => Ok(Some(SagaStatus::Resolved)),
        Err(_) => Err(ApiError::invalid("status", "is not a known SagaStatus")),
    }
}

/// A listing's filter, from the request's fields; a time before the epoch or past what a
/// millisecond count holds is INVALID_ARGUMENT naming its field.
pub fn list_filter(request: &pb::ListSagasRequest) -> Result<SagaFilter, ApiError> {
    let millis = |field: &'static str, at: Option<&prost_types::Timestamp>| {
        at.map(|t| {
            let ms = t
                .seconds
                .checked_mul(1_000)
                .and_then(|s| s.checked_add(i64::from(t.nanos / 1_000_000)));
            ms.filter(|ms| *ms >= 0)
                .ok_or_else(|| ApiError::invalid(field, "is not a time after 1970"))
        })
        .transpose()
    };
    let stuck = i64::try_from(request.stuck_for_ms)
        .map_err(|_| ApiError::invalid("stuck_for_ms", "is too large"))?;
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(SagaFilter {
        status: status_filter(request.status)?,
        definition: text(&request.definition),
        created_after_ms: millis("created_after", request.created_after.as_ref())?,
        created_before_ms: millis("created_before", request.created_before.as_ref())?,
        idle_since_ms: (stuck > 0).then(|| service_kit::db::now_ms().saturating_sub(stuck)),
        key_contains: text(&request.key_contains),
        customer_id: text(&request.customer_id),
        parked: request.parked,
    })
}

pub(super) fn status_to_proto(status: SagaStatus) -> pb::SagaStatus {
    match status {
        SagaStatus::Running => pb::SagaStatus::Running,
        SagaStatus::Compensating => pb::SagaStatus::Compensating,
        SagaStatus::Completed => pb::SagaStatus::Completed,
        SagaStatus::Compensated => pb::SagaStatus::Compensated,
        SagaStatus::Failed => pb::SagaStatus::Failed,
        SagaStatus::Resolved => pb::SagaStatus::Resolved,
    }
}

pub(super) fn entry_to_proto(entry: LogEntry) -> pb::SagaLogEntry {
    let r = entry.record;
    let phase = match r.operation {
        None => pb::StepPhase::Unspecified,
        Some(Operation::Action) => pb::StepPhase::Action,
        Some(Operation::Compensation) => pb::StepPhase::Compensation,
    };
    let outcome = match r.outcome {
        Outcome::Started => pb::StepOutcome::Started,
        Outcome::Succeeded => pb::StepOutcome::Succeeded,
        Outcome::Failed => pb::StepOutcome::Failed,
        Outcome::RetryScheduled => pb::StepOutcome::RetryScheduled,
        Outcome::Claimed => pb::StepOutcome::Claimed,
        Outcome::Retried => pb::StepOutcome::Retried,
        Outcome::Aborted => pb::StepOutcome::Aborted,
        Outcome::Resolved => pb::StepOutcome::Resolved,
        Outcome::Skipped => pb::StepOutcome::Skipped,
    };
    pb::SagaLogEntry {
        seq: entry.seq,
        step: r.step,
        phase: phase.into(),
        outcome: outcome.into(),
        attempt: r.attempt,
        detail: r.detail,
        at: Some(timestamp(entry.at_ms)),
        status: status_to_proto(r.status).into(),
        writer: entry.writer,
        version: u64::try_from(entry.version).unwrap_or(0),
    }
}

pub fn replica_to_proto(replica: ReplicaRecord) -> pb::Replica {
    pb::Replica {
        replica_id: replica.replica_id,
        incarnation: replica.incarnation,
        started_at: Some(timestamp(replica.started_at_ms)),
        last_heartbeat: Some(timestamp(replica.heartbeat_ms)),
        sagas_held: u64::try_from(replica.sagas_held).unwrap_or(0),
    }
}

pub fn definition_to_proto(info: DefinitionInfo) -> pb::DefinitionInfo {
    pb::DefinitionInfo {
        definition: Some(info.definition),
        version: info.version,
        digest: info.digest,
        registered_at: Some(timestamp(info.registered_at_ms)),
    }
}

pub(super) fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// The deadline a caller set with the `grpc-timeout` header, if any.
pub fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> pb::PlaceOrderRequest {
        pb::PlaceOrderRequest {
            idempotency_key: "k1".into(),
            customer_id: "c1".into(),
            items: vec![pb::LineItem {
                sku: "sku-1".into(),
                quantity: 2,
                unit_price_cents: 1_250,
            }],
            currency: "EUR".into(),
            wait_ms: 0,
        }
    }

    fn field_of(request: pb::PlaceOrderRequest) -> Option<String> {
        match PlaceOrder::try_from(request) {
            Err(ApiError::Invalid { field, .. }) => Some(field),
            Err(other) => panic!("unexpected {other}"),
            Ok(_) => None,
        }
    }

    #[test]
    fn a_valid_order_converts_with_its_total() {
        let place = PlaceOrder::try_from(valid()).expect("valid");
        assert_eq!(place.key.as_deref(), Some("k1"));
        assert_eq!(place.order.to_input()["total_cents"], 2_500);
        assert_eq!(place.wait, None);
    }

    #[test]
    fn bad_input_names_the_field() {
        let item = |quantity, unit_price_cents| pb::LineItem {
            sku: "s".into(),
            quantity,
            unit_price_cents,
        };
        type Breakage = Box<dyn Fn(&mut pb::PlaceOrderRequest)>;
        let cases: Vec<(&str, Breakage)> = vec![
            ("customer_id", Box::new(|r| r.customer_id.clear())),
            ("items", Box::new(|r| r.items.clear())),
            (
                "items[0].quantity",
                Box::new(move |r| r.items = vec![item(0, 5)]),
            ),
            (
                "items[0].unit_price_cents",
                Box::new(move |r| r.items = vec![item(1, 0)]),
            ),
            (
                "items[0].unit_price_cents",
                Box::new(move |r| r.items = vec![item(1, -5)]),
            ),
            ("items[0].sku", Box::new(|r| r.items[0].sku.clear())),
            (
                "items",
                Box::new(move |r| r.items = vec![item(u32::MAX, i64::MAX)]),
            ),
            (
                "items",
                Box::new(move |r| r.items = vec![item(1, i64::MAX), item(1, 1)]),
            ),
            ("currency", Box::new(|r| r.currency = "eur".into())),
            ("currency", Box::new(|r| r.currency = "EURO".into())),
            ("currency", Box::new(|r| r.currency.clear())),
            (
                "idempotency_key",
                Box::new(|r| r.idempotency_key = "k".repeat(129)),
            ),
        ];
        for (field, break_it) in cases {
            let mut request = valid();
            break_it(&mut request);
            assert_eq!(field_of(request), Some(field.to_string()), "{field}");
        }
    }

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        let parse = |v: &str| {
            let mut m = tonic::metadata::MetadataMap::new();
            m.insert("grpc-timeout", v.parse().expect("ascii"));
            grpc_timeout(&m)
        };
        assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse("x"), None);
        assert_eq!(parse("10q"), None);
    }
}
