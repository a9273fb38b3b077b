//! Background synchronisation: every `--sync-interval-ms`, the replica holding the sweep
//! pages through the PENDING orders placed directly that changed since its watermark,
//! in change order (updated time, then id), and starts the saga of each one's version.
//! The watermark is committed with the sagas of the page it moves past, in one
//! transaction of the saga log, so a sweep stopped mid-page neither skips an order nor
//! starts one twice; a replica taking the sweep over continues from the watermark.

use saga_contracts::orders::v1 as orders;
use tokio_util::sync::CancellationToken;

use super::{Feed, Invoicing, StartError, pause};
use crate::metrics::SWEPT_ORDERS;

/// The feed's name in the saga log.
const FEED: &str = "invoice-sync";
/// How old a change must be before the sweep moves past it: a transaction that took
/// its time stamp earlier but committed later (several orders-svc replicas on one
/// PostgreSQL) still lands behind the watermark within this time.
const SETTLE_MS: i64 = 1_000;

/// Sweeps every interval while this process holds the sweep, until `shutdown`.
pub async fn run(invoicing: Invoicing, shutdown: CancellationToken) {
    let feed = invoicing.feed(FEED);
    loop {
        match feed.hold().await {
            Ok(Some(watermark)) => {
                if let Err(reason) = sweep(&invoicing, &feed, &watermark).await {
                    tracing::warn!(feed = FEED, %reason, "the sweep stopped; it resumes from its watermark");
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(feed = FEED, %error, "cannot hold the sweep"),
        }
        if !pause(&shutdown, invoicing.sync.interval).await {
            return;
        }
    }
}

/// One sweep from `watermark` to the settled present, page by page.
async fn sweep(invoicing: &Invoicing, feed: &Feed, watermark: &str) -> Result<(), String> {
    let mut cursor = parse(watermark);
    loop {
        // A page no larger than the sagas this replica has room to drive: the page is
        // accepted whole or not at all.
        let room = u32::try_from(invoicing.engine.room()).unwrap_or(u32::MAX);
        let page_size = invoicing.sync.page_size.min(room);
        if page_size == 0 {
            return save(feed, &cursor).await;
        }
        let request = orders::ListOrdersRequest {
            status: orders::OrderStatus::Pending.into(),
            origin: orders::OrderOrigin::Direct.into(),
            page_size,
            changed_after: Some(cursor.clone()),
            ..Default::default()
        };
        let page = invoicing.orders.clone().list_orders(request).await;
        let page = page.map_err(|status| format!("cannot list the orders: {status}"))?;
        let page = page.into_inner();
        // orders-svc's clock judges how settled its own time stamps are.
        let horizon = match page.read_at_ms {
            0 => service_kit::db::now_ms(),
            at => at,
        } - SETTLE_MS;
        let orders = page.orders;
        let full = orders.len() >= page_size as usize;
        let settled: Vec<_> = orders
            .iter()
            .take_while(|o| o.updated_at_ms <= horizon)
            .collect();
        let whole = settled.len() == orders.len();
        if let Some(last) = settled.last() {
            cursor = orders::OrderCursor {
                updated_at_ms: last.updated_at_ms,
                order_id: last.order_id.clone(),
            };
            accept(invoicing, feed, &settled, &cursor).await?;
        } else {
            save(feed, &cursor).await?;
        }
        if !(full && whole) {
            return Ok(());
        }
    }
}

/// Starts the sagas of one page and moves the watermark to `cursor`, in one transaction.
async fn accept(
    invoicing: &Invoicing,
    feed: &Feed,
    page: &[&orders::Order],
    cursor: &orders::OrderCursor,
) -> Result<(), String> {
    let mut starts = Vec::with_capacity(page.len());
    for order in page {
        match invoicing.saga_start(order).await {
            Ok(start) => starts.extend(start),
            Err(StartError::Refused(reason)) => {
                tracing::warn!(order.id = %order.order_id, %reason, "no saga for the order");
            }
            Err(StartError::NotNow(reason)) => return Err(format!("not now: {reason}")),
        }
    }
    let position = format(cursor);
    let accepted = invoicing
        .engine
        .accept_page(starts, feed.lease(), &position)
        .await;
    match accepted.map_err(StartError::from) {
        Ok(ids) => {
            tracing::debug!(sagas = ids.len(), watermark = %position, "sweep page accepted");
            metrics::counter!(SWEPT_ORDERS).increment(ids.len() as u64);
            Ok(())
        }
        Err(StartError::NotNow(reason)) => Err(format!("the page waits: {reason}")),
        Err(StartError::Refused(reason)) => Err(format!("the page was refused: {reason}")),
    }
}

async fn save(feed: &Feed, cursor: &orders::OrderCursor) -> Result<(), String> {
    match feed.advance(&format(cursor)).await {
        Ok(true) => Ok(()),
        Ok(false) => Err("another replica holds the sweep".to_string()),
        Err(error) => Err(format!("cannot save the watermark: {error}")),
    }
}

/// The watermark as the feed stores it: `UPDATED_AT_MS/ORDER_ID`.
fn format(cursor: &orders::OrderCursor) -> String {
    format!("{}/{}", cursor.updated_at_ms, cursor.order_id)
}

/// The stored watermark; the beginning when there is none yet (or it is unreadable).
fn parse(watermark: &str) -> orders::OrderCursor {
    let (at, order_id) = watermark.split_once('/').unwrap_or(("0", ""));
    orders::OrderCursor {
        updated_at_ms: at.parse().unwrap_or(0),
        order_id: order_id.to_string(),
    }
}
