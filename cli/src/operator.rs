//! Operators' actions: `saga retry|abort|resolve ID --reason TEXT` and `saga skip ID STEP
//! --output-json JSON --reason TEXT`. Each answers the saga once the action is durable;
//! a refusal (the saga's state does not allow it) exits 1 with the orchestrator's reason.
//! The request id (`--request-id`, a fresh one by default) makes a repeated command
//! harmless: the same id again changes nothing.

use anyhow::Context;
use saga_contracts::saga::v1 as pb;

use crate::connection::OrchestratorArgs;
use crate::output::{self, Output};
use crate::render;

/// Flags of `saga retry`, `saga abort` and `saga resolve`.
#[derive(Debug, clap::Args)]
pub struct ActionArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    saga_id: String,
    #[command(flatten)]
    why: Why,
}

/// Flags of `saga skip`.
#[derive(Debug, clap::Args)]
pub struct SkipArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    saga_id: String,
    /// The step to record as done (its name in the saga's definition).
    step: String,
    /// The step's answer as the operator got it by hand: its method's response in proto3
    /// JSON, e.g. '{"invoice_id": "inv-7"}'.
    #[arg(long, default_value = "{}")]
    output_json: String,
    #[command(flatten)]
    why: Why,
}

/// Why, and under which request id.
#[derive(Debug, clap::Args)]
struct Why {
    /// Why, for the saga's log.
    #[arg(long)]
    reason: String,
    /// The id of this request: the same id again changes nothing [default: a new one].
    #[arg(long)]
    request_id: Option<String>,
}

impl Why {
    fn request_id(&self) -> String {
        self.request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

/// What to say with a failed action: the id to send it again with, so that an action that
/// may have been carried out (no answer came) is not carried out twice.
fn repeat_with(request_id: &str) -> impl FnOnce() -> String + use<> {
    let id = request_id.to_string();
    move || format!("request {id} (to send it again, give --request-id {id})")
}

/// Which of the whole-saga actions.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    Retry,
    Abort,
    Resolve,
}

/// Carries out `act` on the saga and prints the saga once it is durable.
pub async fn act(act: Act, args: ActionArgs, output: Output) -> anyhow::Result<()> {
    let mut client = args.orchestrator.connect().await?;
    let (saga_id, reason, request_id) =
        (args.saga_id, args.why.reason.clone(), args.why.request_id());
    let again = repeat_with(&request_id);
    let saga = match act {
        Act::Retry => {
            let request = pb::RetrySagaRequest {
                saga_id,
                reason,
                request_id,
            };
            client.retry_saga(request).await
        }
        Act::Abort => {
            let request = pb::AbortSagaRequest {
                saga_id,
                reason,
                request_id,
            };
            client.abort_saga(request).await
        }
        Act::Resolve => {
            let request = pb::ResolveSagaRequest {
                saga_id,
                reason,
                request_id,
            };
            client.resolve_saga(request).await
        }
    }
    .with_context(again)?;
    output::print(output, &saga.into_inner(), "saga.v1.Saga", render::saga)
}

/// Records the step's answer as given, and prints the saga once it is durable.
pub async fn skip(args: SkipArgs, output: Output) -> anyhow::Result<()> {
    let mut client = args.orchestrator.connect().await?;
    let request_id = args.why.request_id();
    let again = repeat_with(&request_id);
    let request = pb::SkipStepRequest {
        saga_id: args.saga_id,
        step: args.step,
        output_json: args.output_json,
        reason: args.why.reason.clone(),
        request_id,
    };
    let saga = client
        .skip_step(request)
        .await
        .with_context(again)?
        .into_inner();
    output::print(output, &saga, "saga.v1.Saga", render::saga)
}
