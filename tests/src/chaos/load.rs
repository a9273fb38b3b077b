//! The campaign's clients: place sagas continuously at a fixed concurrency (a closed loop),
//! spread over the orchestrator replicas, retrying a key whose PlaceOrder failed in
//! transit with the SAME key (on the next replica) until it is answered, so that a saga
//! accepted just before a crash is found again, never doubled; and a ledger of every key
//! sent and every saga id it was answered with. With a direct pattern they place the
//! orders at orders-svc instead, and change some right after (see [`direct`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use saga_contracts::orders::v1::orders_client::OrdersClient;
use saga_contracts::saga::v1::orchestrator_client::OrchestratorClient;
use saga_contracts::saga::v1::{LineItem, PlaceOrderRequest, StartSagaRequest};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

use super::Flow;
use super::plan::derive;
use crate::invariants::Placement;
use crate::invariants::direct::{Change, DirectPlacement};
use crate::pattern::Pattern;
use crate::requests::{CURRENCY, total_cents};

mod direct;

use crate::stock::REFUSED_QUANTITY;
pub use direct::ChangeFigures;

/// Calls per key at most (each waits at least a few milliseconds): a bound, not a goal.
const MAX_CALLS_PER_KEY: u32 = 100_000;
/// Pause before repeating a key, grown up to 8 times with the attempts, jittered.
const RETRY_PAUSE_MS: (u64, u64) = (20, 120);

/// How the clients place orders.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSettings {
    /// The campaign's seed, part of every key (`chaos-SEED-N`).
    pub run_seed: u64,
    /// Root of each order's content and retry jitter.
    pub load_seed: u64,
    pub concurrency: usize,
    /// PlaceOrder's `wait_ms`.
    pub wait_ms: u32,
    /// The definition the clients start (orchestrated).
    pub flow: Flow,
    /// Where the clients place: the orchestrator, or orders-svc directly.
    pub pattern: Pattern,
    /// With a direct pattern: shares of orders updated, and withdrawn, after placing.
    pub update_share: f64,
    pub withdraw_share: f64,
    /// Share of orders over the invoice limit.
    pub over_limit_share: f64,
    /// Share of orders whose reservation is refused (with [`Flow::OrderWithStock`]).
    pub refused_share: f64,
    /// `invoices-svc --max-invoice-cents`.
    pub max_invoice_cents: i64,
    /// Deadline of one PlaceOrder call.
    pub call_timeout: Duration,
    /// Pause of a client between two keys (spreads a campaign's sagas over its time).
    pub think: Duration,
}

/// What the clients did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadFigures {
    /// Keys sent at least once.
    pub sent: usize,
    /// Keys answered with a saga.
    pub answered: usize,
    /// Keys whose order is over the invoice limit.
    pub over_limit: usize,
    /// Keys whose reservation is refused (four-step campaigns).
    pub refused: usize,
    /// PlaceOrder (or StartSaga) calls in all.
    pub calls: u64,
    /// Calls that failed in transit or with a transient code, by code (then repeated).
    pub transient_errors: BTreeMap<String, u64>,
    /// Keys answered by each orchestrator (by name).
    pub answered_by: BTreeMap<String, u64>,
    /// Repeats of a key sent to another replica than the call before.
    pub retried_elsewhere: u64,
    /// Answers no correct orchestrator gives (each a violation).
    pub odd_answers: Vec<String>,
    /// With a direct pattern: the changes made after placing.
    pub changes: ChangeFigures,
}

#[derive(Debug, Default)]
struct Ledger {
    placements: BTreeMap<usize, Placement>,
    /// With a direct pattern, instead of `placements`.
    direct: BTreeMap<usize, DirectPlacement>,
    figures: LoadFigures,
    /// When PlaceOrder last answered with a saga (or the clients started).
    last_answer: Option<Instant>,
}

/// The clients of one campaign. Cheap to clone; clones share the ledger.
#[derive(Debug, Clone)]
pub struct Load {
    /// Every orchestrator by name: key `n` goes to replica `n mod N` first, and each
    /// repeat to the next one.
    clients: Arc<Vec<(String, OrchestratorClient<Channel>)>>,
    /// orders-svc, for a direct pattern.
    orders: OrdersClient<Channel>,
    settings: Arc<LoadSettings>,
    ledger: Arc<Mutex<Ledger>>,
    next: Arc<AtomicUsize>,
}

impl Load {
    /// Clients of the orchestrators (one, or every replica), by name, and of orders-svc;
    /// nothing placed yet.
    pub fn new(
        clients: Vec<(String, OrchestratorClient<Channel>)>,
        orders: OrdersClient<Channel>,
        settings: LoadSettings,
    ) -> Self {
        Self {
            clients: Arc::new(clients),
            orders,
            settings: Arc::new(settings),
            ledger: Arc::default(),
            next: Arc::default(),
        }
    }

    /// Places keys with `concurrency` workers until `limit` keys (counting every earlier
    /// phase) were taken or `stop` fires. Each worker finishes the key it holds: answered,
    /// refused for good, or `give_up` passed.
    pub async fn run(&self, limit: usize, stop: CancellationToken, give_up: Instant) {
        let mut workers = JoinSet::new();
        for _ in 0..self.settings.concurrency.max(1) {
            let load = self.clone();
            let stop = stop.clone();
            workers.spawn(async move {
                for _ in 0..limit {
                    if stop.is_cancelled() {
                        return;
                    }
                    let Some(n) = load.take(limit) else {
                        return;
                    };
                    load.place_until_answered(n, give_up).await;
                    tokio::time::sleep(load.settings.think).await;
                }
            });
        }
        while workers.join_next().await.is_some() {}
    }

    /// How long since PlaceOrder last answered with a saga (zero before the first key).
    pub fn since_last_answer(&self) -> Duration {
        self.with(|l| l.last_answer.map(|t| t.elapsed()).unwrap_or_default())
    }

    /// Keys taken so far.
    pub fn taken(&self) -> usize {
        self.next.load(Ordering::SeqCst)
    }

    /// Every key sent to the orchestrators, with what it was answered.
    pub fn placements(&self) -> Vec<Placement> {
        self.with(|l| l.placements.values().cloned().collect())
    }

    /// Every key sent to orders-svc, with what it was answered and what changed.
    pub fn direct_placements(&self) -> Vec<DirectPlacement> {
        self.with(|l| l.direct.values().cloned().collect())
    }

    /// What the clients did so far.
    pub fn figures(&self) -> LoadFigures {
        self.with(|l| l.figures.clone())
    }

    /// The next key's number, unless `limit` keys were taken.
    fn take(&self, limit: usize) -> Option<usize> {
        self.next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
    }

    async fn place_until_answered(&self, n: usize, give_up: Instant) {
        let order = order_for(&self.settings, n);
        let key = order.request.idempotency_key.clone();
        self.with(|l| {
            l.last_answer.get_or_insert_with(Instant::now);
            l.figures.sent += 1;
            l.figures.over_limit += usize::from(order.over_limit);
            l.figures.refused += usize::from(order.refused);
            l.register(n, &order);
        });
        let mut jitter = StdRng::seed_from_u64(derive(self.settings.load_seed, &[n as u64, 1]));
        for attempt in 1..=MAX_CALLS_PER_KEY {
            if attempt > 1 && Instant::now() >= give_up {
                break;
            }
            let Some((name, client)) = self.target(n, attempt) else {
                self.odd(format!("PlaceOrder {key:?} has no orchestrator to go to"));
                return;
            };
            let answer = self.call(client.clone(), &order.request).await;
            self.with(|l| {
                l.figures.calls += 1;
                l.figures.retried_elsewhere += u64::from(attempt > 1 && self.clients.len() > 1);
            });
            let status = match answer {
                Ok(Some(id)) => {
                    self.with(|l| {
                        l.last_answer = Some(Instant::now());
                        l.figures.answered += 1;
                        *l.figures.answered_by.entry(name.clone()).or_default() += 1;
                        l.answered(n, id.clone());
                    });
                    if let Some(change) = order.change {
                        self.change(n, id, change, &order, give_up).await;
                    }
                    return;
                }
                Ok(None) => {
                    self.odd(format!("PlaceOrder {key:?} was answered without a saga"));
                    return;
                }
                Err(status) => status,
            };
            if is_transient(&status) {
                self.with(|l| {
                    *l.figures
                        .transient_errors
                        .entry(format!("{:?}", status.code()))
                        .or_default() += 1
                });
            } else {
                self.odd(format!(
                    "PlaceOrder {key:?} attempt {attempt} answered {:?}: {}",
                    status.code(),
                    status.message()
                ));
                if matches!(status.code(), Code::InvalidArgument | Code::AlreadyExists) {
                    return;
                }
            }
            let (low, high) = RETRY_PAUSE_MS;
            let pause = jitter.random_range(low..=high) * u64::from(attempt.min(8));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        self.odd(format!(
            "PlaceOrder {key:?} was never answered before the campaign gave up"
        ));
    }

    /// One call for `request`: `PlaceOrder`, or `StartSaga` of the four-step definition
    /// with the same order as its input (and the total it must come to, which the saga
    /// echoes for the checker), answered with the saga's id; with a direct pattern,
    /// `PlaceOrder` at orders-svc, answered with the order's id.
    async fn call(
        &self,
        mut client: OrchestratorClient<Channel>,
        request: &PlaceOrderRequest,
    ) -> Result<Option<String>, tonic::Status> {
        let timeout = self.settings.call_timeout;
        if self.settings.pattern.direct() {
            return self.place_at_orders(request).await.map(Some);
        }
        let saga = match self.settings.flow {
            Flow::PlaceOrder => {
                let mut call = tonic::Request::new(request.clone());
                call.set_timeout(timeout);
                client.place_order(call).await?.into_inner().saga
            }
            Flow::OrderWithStock => {
                let mut call = tonic::Request::new(StartSagaRequest {
                    definition: Flow::OrderWithStock.name().to_string(),
                    version: 0,
                    idempotency_key: request.idempotency_key.clone(),
                    input_json: stock_input(request).to_string(),
                    wait_ms: request.wait_ms,
                });
                call.set_timeout(timeout);
                client.start_saga(call).await?.into_inner().saga
            }
        };
        Ok(saga.map(|s| s.saga_id))
    }

    /// The orchestrator that call `attempt` (from 1) of key `n` goes to.
    fn target(&self, n: usize, attempt: u32) -> Option<&(String, OrchestratorClient<Channel>)> {
        let count = self.clients.len().max(1);
        let turn = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
        self.clients.get((n % count + turn % count) % count)
    }

    fn odd(&self, what: String) {
        self.with(|l| l.figures.odd_answers.push(what));
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self.ledger.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Ledger {
    /// A key about to be sent first, in the ledger of its pattern.
    fn register(&mut self, n: usize, order: &Drawn) {
        let key = order.request.idempotency_key.clone();
        let total_cents = total_cents(&order.request);
        if order.direct {
            let placement = DirectPlacement {
                key,
                answered: Default::default(),
                total_cents,
                over_limit: order.over_limit,
                change: order.change,
                changed: false,
                updated_total_cents: None,
            };
            self.direct.insert(n, placement);
            return;
        }
        let placement = Placement {
            key,
            answered: Default::default(),
            total_cents,
            over_limit: order.over_limit,
            refused: order.refused,
        };
        self.placements.insert(n, placement);
    }

    /// Key `n` was answered with the saga (or, placed directly, the order) `id`.
    fn answered(&mut self, n: usize, id: String) {
        if let Some(p) = self.placements.get_mut(&n) {
            p.answered.insert(id);
        } else if let Some(p) = self.direct.get_mut(&n) {
            p.answered.insert(id);
        }
    }
}

/// What a client retries with the same key: the call may not have arrived, or may have
/// been accepted before the answer was lost. A status the orchestrator did not send (the
/// transport failed: a reset stream, an HTTP/2 protocol error) is such a case whatever its
/// code, as the orchestrator itself treats its participants' transport failures.
fn is_transient(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
        || matches!(
            status.code(),
            Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Cancelled
                | Code::Unknown
                | Code::ResourceExhausted
                | Code::Aborted
        )
}

/// One order of a campaign, and how its saga must end.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub request: PlaceOrderRequest,
    /// Over the invoice limit: it must compensate.
    pub over_limit: bool,
    /// Its first line asks for more stock than one reservation may hold: it must
    /// compensate (four-step campaigns only).
    pub refused: bool,
    /// Placed at orders-svc directly (a direct pattern)...
    pub direct: bool,
    /// ...and changed by its client right after.
    pub change: Option<Change>,
}

/// The `n`th order of a campaign. A pure function of the settings' seeds and `n`; the
/// draws of a four-step campaign's refusals come after the rest, so a seed places the
/// same orders in both.
pub fn order_for(settings: &LoadSettings, n: usize) -> Drawn {
    let mut rng = StdRng::seed_from_u64(derive(settings.load_seed, &[n as u64, 0]));
    let max = settings.max_invoice_cents.max(16);
    let over_limit = rng.random_bool(settings.over_limit_share.clamp(0.0, 1.0));
    let items = if over_limit {
        // Two of something priced over half the limit: always over it.
        vec![LineItem {
            sku: "sku-grand-piano".into(),
            quantity: 2,
            unit_price_cents: max / 2 + rng.random_range(1..=max / 2),
        }]
    } else {
        // At most 3 lines of 4 units at max/16: at most three quarters of the limit.
        (0..rng.random_range(1..=3))
            .map(|line| LineItem {
                sku: format!("sku-{line}-{}", rng.random_range(0..50)),
                quantity: rng.random_range(1..=4),
                unit_price_cents: rng.random_range(100..=max / 16),
            })
            .collect()
    };
    let mut request = PlaceOrderRequest {
        idempotency_key: format!("chaos-{}-{n}", settings.run_seed),
        customer_id: format!("customer-{}", n % 10),
        items,
        currency: CURRENCY.to_string(),
        wait_ms: settings.wait_ms,
    };
    let refused = settings.flow == Flow::OrderWithStock
        && !over_limit
        && rng.random_bool(settings.refused_share.clamp(0.0, 1.0));
    if let (true, Some(first)) = (refused, request.items.first_mut()) {
        first.quantity = REFUSED_QUANTITY;
        first.unit_price_cents = 1;
    }
    // Drawn last, so that a seed places the same orders whatever the pattern.
    let direct = settings.pattern.direct();
    let change = match direct {
        false => None,
        true if rng.random_bool(settings.update_share.clamp(0.0, 1.0)) => Some(Change::Update),
        true if rng.random_bool(settings.withdraw_share.clamp(0.0, 1.0)) => Some(Change::Withdraw),
        true => None,
    };
    Drawn {
        request,
        over_limit,
        refused,
        direct,
        change,
    }
}

/// A four-step saga's input: the order, and the total it must come to.
fn stock_input(request: &PlaceOrderRequest) -> serde_json::Value {
    let items: Vec<serde_json::Value> = request
        .items
        .iter()
        .map(|i| {
            serde_json::json!({"sku": i.sku, "quantity": i.quantity, "unit_price_cents": i.unit_price_cents})
        })
        .collect();
    serde_json::json!({
        "customer_id": request.customer_id,
        "items": items,
        "currency": request.currency,
        "total_cents": total_cents(request),
    })
}

#[cfg(test)]
mod tests;
