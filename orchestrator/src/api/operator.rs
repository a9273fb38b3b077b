//! Operators' actions at the gRPC edge: each request checked (who, why, under which
//! request id; a skipped step's output against its method's response type), then handed
//! to the engine, which answers once it is durable.

use saga_contracts::saga::v1 as pb;
use saga_definitions::machine::{Action, Intervention};

use super::{ApiError, OrchestratorApi};
use crate::auth::Principal;
/// The longest reason and request id kept in the log.
const MAX_REASON: usize = 1_000;
const MAX_REQUEST_ID: usize = 128;

/// What every action names: the saga, why, and the caller's id for the request.
pub struct Asked {
    pub saga_id: String,
    pub reason: String,
    pub request_id: String,
}

impl Asked {
    fn checked(self) -> Result<Self, ApiError> {
        let required = |field: &str, value: &str, max: usize| match value.trim().len() {
            0 => Err(ApiError::invalid(field, "must not be empty")),
            n if n > max => Err(ApiError::invalid(field, format!("longer than {max} bytes"))),
            _ => Ok(()),
        };
        required("saga_id", &self.saga_id, MAX_REQUEST_ID)?;
        required("reason", &self.reason, MAX_REASON)?;
        required("request_id", &self.request_id, MAX_REQUEST_ID)?;
        use service_kit::text::{CONTROL_CHARACTER, has_control, has_control_but_lines};
        for (field, value) in [("saga_id", &self.saga_id), ("request_id", &self.request_id)] {
            if has_control(value) {
                return Err(ApiError::invalid(field, CONTROL_CHARACTER));
            }
        }
        if has_control_but_lines(&self.reason) {
            let reason = "must not hold control characters other than line breaks and tabs";
            return Err(ApiError::invalid("reason", reason));
        }
        Ok(self)
    }
}

impl From<pb::RetrySagaRequest> for Asked {
    fn from(r: pb::RetrySagaRequest) -> Self {
        Self {
            saga_id: r.saga_id,
            reason: r.reason,
            request_id: r.request_id,
        }
    }
}

impl From<pb::AbortSagaRequest> for Asked {
    fn from(r: pb::AbortSagaRequest) -> Self {
        Self {
            saga_id: r.saga_id,
            reason: r.reason,
            request_id: r.request_id,
        }
    }
}

impl From<pb::ResolveSagaRequest> for Asked {
    fn from(r: pb::ResolveSagaRequest) -> Self {
        Self {
            saga_id: r.saga_id,
            reason: r.reason,
            request_id: r.request_id,
        }
    }
}

impl OrchestratorApi {
    /// Carries out `action` as `asked` says, in the name of `principal`; the saga once
    /// it is durable.
    pub(super) async fn operate(
        &self,
        asked: Asked,
        action: Action,
        principal: Principal,
    ) -> Result<pb::Saga, ApiError> {
        let asked = asked.checked()?;
        let intervention = Intervention {
            action,
            principal: principal.0,
            reason: asked.reason.trim().to_string(),
            request_id: asked.request_id,
        };
        let saga = self.engine.intervene(&asked.saga_id, intervention).await?;
        Ok(self.view(saga).await)
    }

    /// The skip a request asks for, its step and output checked against the definition
    /// version the saga runs.
    pub(super) async fn skip(
        &self,
        request: pb::SkipStepRequest,
        principal: Principal,
    ) -> Result<pb::Saga, ApiError> {
        let asked = Asked {
            saga_id: request.saga_id,
            reason: request.reason,
            request_id: request.request_id,
        }
        .checked()?;
        let saga = self.engine.get(&asked.saga_id).await?;
        let runnable = self
            .definitions
            .runnable(&saga.definition, saga.definition_version)
            .await?;
        let step = request.step;
        let index = runnable
            .definition()
            .steps
            .iter()
            .position(|s| s.name == step)
            .ok_or_else(|| {
                ApiError::invalid(
                    "step",
                    format!(
                        "{} v{} has no step {step:?}",
                        saga.definition, saga.definition_version
                    ),
                )
            })?;
        let output = runnable
            .answer_from_json(index, &request.output_json)
            .map_err(|reason| ApiError::invalid("output_json", reason))?;
        self.operate(asked, Action::Skip { step, output }, principal)
            .await
    }
}
