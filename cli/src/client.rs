//! Client subcommands against a running orchestrator.

use anyhow::Context;
use saga_contracts::saga::v1 as pb;

use crate::connection::OrchestratorArgs;
use crate::output::{self, Output};
use crate::{render, table};
/// The proto name of a saga, for `--output json`.
const SAGA: &str = "saga.v1.Saga";

/// Flags of `saga place`.
#[derive(Debug, clap::Args)]
pub struct PlaceArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    #[arg(long)]
    customer: String,
    /// A line item as SKU:QUANTITY:UNIT_PRICE_CENTS; repeat for more lines.
    #[arg(long = "item", required = true, value_parser = parse_item)]
    items: Vec<pb::LineItem>,
    #[arg(long, default_value = "EUR")]
    currency: String,
    /// Idempotency key: the same key again returns the same saga.
    #[arg(long, default_value = "")]
    key: String,
    /// Answer after this long even if the saga has not ended (0: wait for the end).
    #[arg(long, default_value_t = 0)]
    wait_ms: u32,
}

/// Flags of `saga start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    /// The registered definition's name.
    definition: String,
    /// The saga's input, a JSON object (e.g. '{"customer_id": "c1", ...}').
    #[arg(long, default_value = "{}")]
    input: String,
    /// The definition version (0: the latest).
    #[arg(long, default_value_t = 0)]
    version: u32,
    /// Idempotency key: the same key again returns the same saga.
    #[arg(long, default_value = "")]
    key: String,
    /// Answer after this long even if the saga has not ended (0: wait for the end).
    #[arg(long, default_value_t = 0)]
    wait_ms: u32,
}

/// Flags of `saga get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    saga_id: String,
}

/// Flags of `saga list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    /// Only sagas of this status: running, compensating, completed, compensated, failed,
    /// resolved.
    #[arg(long, value_parser = parse_status)]
    status: Option<pb::SagaStatus>,
    /// Only sagas of this definition.
    #[arg(long)]
    definition: Option<String>,
    /// Only unfinished sagas with no progress for longer than this (ms): stuck ones.
    #[arg(long, default_value_t = 0)]
    stuck_for_ms: u64,
    /// Only sagas whose idempotency key holds this text.
    #[arg(long)]
    key: Option<String>,
    /// Only sagas whose input names this customer.
    #[arg(long)]
    customer: Option<String>,
    /// Only sagas whose current call is parked (keeps failing; retried at a slow pace).
    #[arg(long)]
    parked: bool,
    /// Only sagas created after this time (RFC 3339, e.g. 2026-12-07T09:00:00Z).
    #[arg(long)]
    created_after: Option<prost_types::Timestamp>,
    /// Only sagas created before this time (RFC 3339).
    #[arg(long)]
    created_before: Option<prost_types::Timestamp>,
    /// How many sagas to show.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// The page after the one that printed this token.
    #[arg(long, default_value = "")]
    page_token: String,
}

/// Flags of `saga replicas`.
#[derive(Debug, clap::Args)]
pub struct ReplicasArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
}

pub async fn place(args: PlaceArgs) -> anyhow::Result<()> {
    let request = pb::PlaceOrderRequest {
        idempotency_key: args.key,
        customer_id: args.customer,
        items: args.items,
        currency: args.currency,
        wait_ms: args.wait_ms,
    };
    let saga = place_order(&args.orchestrator, request).await?;
    println!("{}", render::saga(&saga));
    Ok(())
}

pub async fn start(args: StartArgs) -> anyhow::Result<()> {
    let mut client = args.orchestrator.connect().await?;
    let request = pb::StartSagaRequest {
        definition: args.definition,
        version: args.version,
        idempotency_key: args.key,
        input_json: args.input,
        wait_ms: args.wait_ms,
    };
    let response = client.start_saga(request).await?.into_inner();
    let saga = response
        .saga
        .context("the orchestrator answered without a saga")?;
    println!("{}", render::saga(&saga));
    Ok(())
}

pub async fn get(args: GetArgs, output: Output) -> anyhow::Result<()> {
    output::print(output, &fetch(args).await?, SAGA, render::saga)
}

pub async fn show(args: GetArgs, output: Output) -> anyhow::Result<()> {
    let saga = fetch(args).await?;
    let timeline =
        |saga: &pb::Saga| format!("{}\n{}", render::summary(saga), table::timeline(saga));
    output::print(output, &saga, SAGA, timeline)
}

async fn fetch(args: GetArgs) -> anyhow::Result<pb::Saga> {
    let mut client = args.orchestrator.connect().await?;
    let request = pb::GetSagaRequest {
        saga_id: args.saga_id,
    };
    Ok(client.get_saga(request).await?.into_inner())
}

pub async fn list(args: ListArgs, output: Output) -> anyhow::Result<()> {
    let mut client = args.orchestrator.connect().await?;
    let request = pb::ListSagasRequest {
        status: args.status.unwrap_or(pb::SagaStatus::Unspecified).into(),
        page_size: args.limit,
        page_token: args.page_token,
        definition: args.definition.unwrap_or_default(),
        created_after: args.created_after,
        created_before: args.created_before,
        stuck_for_ms: args.stuck_for_ms,
        key_contains: args.key.unwrap_or_default(),
        customer_id: args.customer.unwrap_or_default(),
        parked: args.parked,
    };
    let listed = client.list_sagas(request).await?.into_inner();
    output::print(output, &listed, "saga.v1.ListSagasResponse", |listed| {
        table::sagas(listed, now_ms())
    })
}

pub async fn replicas(args: ReplicasArgs, output: Output) -> anyhow::Result<()> {
    let mut client = args.orchestrator.connect().await?;
    let listed = client.list_replicas(pb::ListReplicasRequest {}).await?;
    output::print(
        output,
        &listed.into_inner(),
        "saga.v1.ListReplicasResponse",
        |listed| render::replicas(&listed.replicas),
    )
}

/// Places the demo's order for customer `demo` with one line at `unit_price_cents`.
pub async fn place_demo_order(url: &str, unit_price_cents: i64) -> anyhow::Result<pb::Saga> {
    let orchestrator = OrchestratorArgs::at(url);
    let request = pb::PlaceOrderRequest {
        idempotency_key: String::new(),
        customer_id: "demo".into(),
        items: vec![pb::LineItem {
            sku: "coffee-beans-1kg".into(),
            quantity: 2,
            unit_price_cents,
        }],
        currency: "EUR".into(),
        wait_ms: 0,
    };
    place_order(&orchestrator, request).await
}

async fn place_order(
    orchestrator: &OrchestratorArgs,
    request: pb::PlaceOrderRequest,
) -> anyhow::Result<pb::Saga> {
    let mut client = orchestrator.connect().await?;
    let response = client.place_order(request).await?.into_inner();
    response
        .saga
        .context("the orchestrator answered without a saga")
}

pub fn parse_item(text: &str) -> Result<pb::LineItem, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [sku, quantity, price] = parts[..] else {
        return Err("expected SKU:QUANTITY:UNIT_PRICE_CENTS".into());
    };
    Ok(pb::LineItem {
        sku: sku.to_string(),
        quantity: quantity
            .parse()
            .map_err(|_| "QUANTITY is not a whole number")?,
        unit_price_cents: price
            .parse()
            .map_err(|_| "UNIT_PRICE_CENTS is not a whole number")?,
    })
}

fn parse_status(text: &str) -> Result<pb::SagaStatus, String> {
    pb::SagaStatus::from_short_name(text).ok_or_else(|| format!("unknown status {text:?}"))
}

/// The local clock, for the ages in a listing.
fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
