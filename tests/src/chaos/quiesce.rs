//! Waiting for a campaign's sagas to end: a bounded poll of the unfinished ones, which
//! remembers when each was last seen unfinished, for the liveness rule.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;
use saga_contracts::orders::v1::OrderStatus;
use saga_contracts::saga::v1::SagaStatus;
use tokio::time::Instant;

use super::setup::Clients;
use crate::direct::all_events;
use crate::invariants::Straggler;
use crate::invariants::direct::INVOICE_ORDER;
use crate::listing::{all_sagas, orders_in};

/// Pause between two looks at the unfinished sagas.
pub const QUIESCE_POLL: Duration = Duration::from_millis(250);

/// What the looks at the unfinished sagas saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiet {
    /// Unfinished at the last look.
    unfinished: Vec<String>,
    waited: Duration,
    /// Every saga seen unfinished: its status and when, at the last look that saw it so.
    last_seen: BTreeMap<String, (SagaStatus, Instant)>,
}

impl Quiet {
    /// Whether no saga was left unfinished.
    pub fn is_quiet(&self) -> bool {
        self.unfinished.is_empty()
    }

    /// Every saga seen unfinished, with how long after `since` it was last seen so.
    pub fn stragglers(&self, since: Instant) -> Vec<Straggler> {
        self.last_seen
            .iter()
            .map(|(id, (status, seen))| Straggler {
                saga_id: id.clone(),
                status: *status,
                last_seen_unfinished: seen.saturating_duration_since(since),
                ended: !self
                    .unfinished
                    .contains(&format!("{id} {}", status.as_str_name())),
            })
            .collect()
    }
}

impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unfinished.len() {
            0 => write!(f, "every saga ended ({:.1}s)", self.waited.as_secs_f64()),
            n => write!(
                f,
                "{n} sagas unfinished after {:.1}s, e.g. {:?}",
                self.waited.as_secs_f64(),
                &self.unfinished[..n.min(5)]
            ),
        }
    }
}

/// How long an event may wait for its saga once every order has settled: a consumer
/// that took an event and then stopped (paused, killed) holds it until the broker
/// delivers it again (the orchestrator's 30 s ack wait), or until its feed's lease
/// passes to another replica.
pub const EVENT_REDELIVERY: Duration = Duration::from_secs(45);

/// On the event paths, polls until every order version an event announced has its
/// saga, or `timeout`: orders can all be settled by a later version's saga while an
/// earlier event is still held by a stopped consumer. Answers how many still had none.
pub async fn wait_until_every_event_acted_on(
    clients: &Clients,
    timeout: Duration,
) -> Result<usize> {
    let began = Instant::now();
    loop {
        let events = all_events(&clients.orders).await?;
        let keys: BTreeSet<String> = all_sagas(&clients.orchestrator, SagaStatus::Unspecified)
            .await?
            .into_iter()
            .map(|s| s.idempotency_key)
            .collect();
        let missing = events
            .iter()
            .filter(|e| e.r#type != "order-cancelled")
            .filter_map(|e| e.order.as_ref())
            .filter(|o| !keys.contains(&format!("{INVOICE_ORDER}/{}/v{}", o.order_id, o.version)))
            .count();
        if missing == 0 || began.elapsed() >= timeout {
            return Ok(missing);
        }
        tokio::time::sleep(QUIESCE_POLL * 4).await;
    }
}

/// Polls until no saga is RUNNING or COMPENSATING (and with a direct pattern no order
/// PENDING: it may wait for its event or the sweep), or `timeout`.
pub async fn wait_until_quiet(clients: &Clients, timeout: Duration) -> Result<Quiet> {
    let began = Instant::now();
    let turns = timeout.as_millis() / QUIESCE_POLL.as_millis() + 1;
    let mut unfinished = Vec::new();
    let mut last_seen = BTreeMap::new();
    for _ in 0..turns {
        unfinished.clear();
        for status in [SagaStatus::Running, SagaStatus::Compensating] {
            let sagas = all_sagas(&clients.orchestrator, status).await?;
            let now = Instant::now();
            for saga in &sagas {
                unfinished.push(format!("{} {}", saga.saga_id, status.as_str_name()));
                last_seen.insert(saga.saga_id.clone(), (status, now));
            }
        }
        if clients.direct {
            for order in orders_in(&clients.orders, OrderStatus::Pending).await? {
                unfinished.push(format!("order {} PENDING", order.order_id));
            }
        }
        if unfinished.is_empty() || began.elapsed() >= timeout {
            break;
        }
        tokio::time::sleep(QUIESCE_POLL).await;
    }
    Ok(Quiet {
        unfinished,
        waited: began.elapsed(),
        last_seen,
    })
}
