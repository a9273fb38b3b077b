//! `saga order`: an order placed at orders-svc directly, for the event-driven and
//! background-sync patterns; with `--wait`, until the invoice trigger has settled it.

use std::time::Duration;

use anyhow::{Context, bail};
use saga_contracts::orders::v1 as orders;
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1 as pb;

use crate::client::parse_item;

/// How often `--wait` looks at the order.
const POLL: Duration = Duration::from_millis(100);

/// Flags of `saga order`.
#[derive(Debug, clap::Args)]
pub struct OrderArgs {
    /// orders-svc.
    #[arg(long, env = "ORDERS_URL", default_value = "http://127.0.0.1:50052")]
    url: String,
    #[arg(long)]
    customer: String,
    /// A line item as SKU:QUANTITY:UNIT_PRICE_CENTS; repeat for more lines.
    #[arg(long = "item", required = true, value_parser = parse_item)]
    items: Vec<pb::LineItem>,
    #[arg(long, default_value = "EUR")]
    currency: String,
    /// Idempotency key: the same key again returns the same order.
    #[arg(long)]
    key: String,
    /// Wait up to this many seconds for the order to be CONFIRMED or CANCELLED.
    #[arg(long)]
    wait: Option<u64>,
}

pub async fn order(args: OrderArgs) -> anyhow::Result<()> {
    let mut client = OrdersClient::connect(args.url.clone())
        .await
        .with_context(|| format!("cannot reach orders-svc at {}", args.url))?;
    let request = orders::PlaceOrderRequest {
        idempotency_key: args.key,
        customer_id: args.customer,
        items: args
            .items
            .into_iter()
            .map(|i| orders::LineItem {
                sku: i.sku,
                quantity: i.quantity,
                unit_price_cents: i.unit_price_cents,
            })
            .collect(),
        currency: args.currency,
    };
    let mut order = client.place_order(request).await?.into_inner();
    println!("{}", line(&order));
    let Some(secs) = args.wait else {
        return Ok(());
    };
    let give_up = tokio::time::Instant::now() + Duration::from_secs(secs);
    while order.status() == orders::OrderStatus::Pending {
        if tokio::time::Instant::now() >= give_up {
            bail!("order {} is still PENDING after {secs}s", order.order_id);
        }
        tokio::time::sleep(POLL).await;
        let get = orders::GetOrderRequest {
            order_id: order.order_id.clone(),
        };
        order = client.get_order(get).await?.into_inner();
    }
    println!("{}", line(&order));
    Ok(())
}

fn line(order: &orders::Order) -> String {
    let status = order
        .status()
        .as_str_name()
        .trim_start_matches("ORDER_STATUS_");
    format!(
        "order {} v{} {status} {} {} cents",
        order.order_id, order.version, order.currency, order.total_cents
    )
}
