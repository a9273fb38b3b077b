//! The saga's calls to the participants: each request built from its step's template
//! over what the saga knows, sent as a dynamic message to whichever participant serves
//! the method, and its answer (or failure) turned into an event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use saga_definitions::machine::{Event, Failure, Operation, SagaScope};
use saga_definitions::request;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tracing::Instrument;

use super::classify::classify;
use super::pool::Pool;
use crate::definitions::Runnable;
use crate::dynamic::{self, CallMetadata};
use crate::metrics;

/// A participant URL that is not a valid endpoint.
#[derive(Debug, thiserror::Error)]
#[error("invalid participant url {url:?}")]
pub struct InvalidUrl {
    url: String,
    #[source]
    source: tonic::transport::Error,
}

/// Connections to every configured participant, by the gRPC service it serves, over
/// `connections` HTTP/2 connections each; cheap to clone.
#[derive(Debug, Clone)]
pub struct Participants {
    services: Arc<HashMap<String, Pool<Channel>>>,
    call_timeout: Duration,
}

/// One call to make: the saga as its templates see it, and which call of which step.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub runnable: &'a Runnable,
    pub scope: SagaScope<'a>,
    pub step: usize,
    pub operation: Operation,
    pub attempt: u32,
    /// The saga's trace, which the call's span joins.
    pub trace_context: &'a str,
}

impl Participants {
    /// `services` maps each gRPC service (`package.Service`) to its participant's URL.
    /// Connects lazily, so the orchestrator may start before the participants.
    pub fn connect(
        services: &[(String, String)],
        connections: usize,
        call_timeout: Duration,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<Self, InvalidUrl> {
        let mut pools = HashMap::new();
        for (service, url) in services {
            let channels = (0..connections.max(1))
                .map(|_| channel(url, tls))
                .collect::<Result<Vec<_>, _>>()?;
            pools.insert(service.clone(), Pool::new(channels, |c| c));
        }
        Ok(Self {
            services: Arc::new(pools),
            call_timeout,
        })
    }

    /// Makes the call and reports how it ended. Never fails: a failure is an event for
    /// the state machine to decide on.
    pub async fn perform(&self, call: Call<'_>) -> Event {
        let step = &call.runnable.definition().steps[call.step];
        let span = tracing::info_span!(
            "call",
            saga_id = call.scope.saga_id,
            step = %step.name,
            operation = call.operation.as_str(),
            attempt = call.attempt,
            otel.kind = "client",
            trace_id = tracing::field::Empty
        );
        service_kit::trace_context::adopt(&span, call.trace_context);
        let started = std::time::Instant::now();
        let answer = self.dispatch(call).instrument(span).await;
        let seconds = started.elapsed().as_secs_f64();
        let definition = call.runnable.name();
        let observed =
            |outcome| metrics::call_made(definition, &step.name, call.operation, outcome, seconds);
        match answer {
            Ok(output) => {
                observed("succeeded");
                Event::Succeeded { output }
            }
            Err(status) => {
                let failure = classify(&status);
                if failure == Failure::Transient {
                    observed("transient");
                    metrics::call_retried(definition, &step.name, status.code());
                    tracing::warn!(saga_id = call.scope.saga_id, step = %step.name, attempt = call.attempt, code = ?status.code(), "call failed, will retry");
                } else {
                    observed("refused");
                }
                Event::CallFailed {
                    failure,
                    detail: format!("{:?}: {}", status.code(), status.message()),
                }
            }
        }
    }

    async fn dispatch(&self, call: Call<'_>) -> Result<serde_json::Value, tonic::Status> {
        let step = &call.runnable.definition().steps[call.step];
        let target = match call.operation {
            Operation::Action => Some(&step.action),
            Operation::Compensation => step.compensation.as_ref(),
        };
        let target = target.ok_or_else(|| {
            tonic::Status::internal(format!("step {} has nothing to undo", step.name))
        })?;
        let method = call
            .runnable
            .method(&target.method)
            .ok_or_else(|| tonic::Status::internal(format!("{} is not resolved", target.method)))?;
        let message = request::build(&target.input, &method.input(), &call.scope).map_err(|e| {
            tonic::Status::invalid_argument(format!("cannot build the request: {e}"))
        })?;
        let pool = self.services.get(&target.method.service).ok_or_else(|| {
            tonic::Status::unavailable(format!(
                "no participant serves {} (--participant)",
                target.method.service
            ))
        })?;
        let metadata = CallMetadata {
            saga_id: call.scope.saga_id,
            step: &step.name,
            operation: call.operation,
        };
        let timeout = step
            .retry
            .call_timeout_ms
            .map_or(self.call_timeout, |ms| Duration::from_millis(ms.into()));
        let answer = dynamic::call(pool.pick(), method, message, &metadata, timeout).await?;
        Ok(call.runnable.keep_answer(call.step, answer))
    }
}

/// A channel to the participant at `url`, connected on first use; over TLS with `tls`
/// for an `https://` URL.
pub fn channel(url: &str, tls: Option<&ClientTlsConfig>) -> Result<Channel, InvalidUrl> {
    let invalid = |source| InvalidUrl {
        url: url.to_string(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(url.to_string()).map_err(invalid)?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone()).map_err(invalid)?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy())
}
