//! The engine's test bench: both participants in this process on port 0, each on a
//! fresh database, and engines (replicas) over one saga log whose store can be told to
//! lose the replies of its next commits, as a database connection cut after `COMMIT`
//! reached the server would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use saga_definitions::machine::SagaStatus;

use crate::definitions::{Definitions, ParticipantSchemas};
use crate::engine::{Engine, Entropy, Participants, SagaStart, Settings, SystemClock};
use crate::store::{
    self, Claim, FeedLease, Incarnation, Inserted, NewSaga, ReplicaRecord, SagaFilter, SagaRecord,
    SagaStore, SagaWrite, StoreError,
};
use crate::testing::{order_input, place_order, policy};

/// Participants and a saga log on one backend.
pub struct Stack {
    pub log_url: String,
    orders_url: String,
    invoices_url: String,
    shutdown: CancellationToken,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One stack per available backend (SQLite, and PostgreSQL when the tests have one).
pub async fn stacks() -> Vec<Stack> {
    stacks_with_order_faults("").await
}

/// [`stacks`] whose orders participant injects `faults` (its `--faults`).
pub async fn stacks_with_order_faults(faults: &str) -> Vec<Stack> {
    let (orders_dir, orders) = service_kit::testing::fresh_urls("orders.db").await;
    let (invoices_dir, invoices) = service_kit::testing::fresh_urls("invoices.db").await;
    let (log_dir, logs) = service_kit::testing::fresh_urls("log.db").await;
    let mut dirs = vec![orders_dir, invoices_dir, log_dir];
    let mut stacks = Vec::new();
    for ((orders_db, invoices_db), log_url) in orders.into_iter().zip(invoices).zip(logs) {
        let shutdown = CancellationToken::new();
        let orders_app = orders_svc::App::build(orders_svc::Config {
            listen: "127.0.0.1:0".into(),
            database_url: orders_db,
            faults: faults.to_string(),
            fault_seed: Some(1),
            ..Default::default()
        })
        .await
        .expect("start orders-svc");
        let invoices_app = invoices_svc::App::build(invoices_svc::Config {
            listen: "127.0.0.1:0".into(),
            database_url: invoices_db,
            ..Default::default()
        })
        .await
        .expect("start invoices-svc");
        let orders_url = format!("http://{}", orders_app.local_addr());
        let invoices_url = format!("http://{}", invoices_app.local_addr());
        tokio::spawn(orders_app.run_until(shutdown.clone()));
        tokio::spawn(invoices_app.run_until(shutdown.clone()));
        stacks.push(Stack {
            log_url,
            orders_url,
            invoices_url,
            shutdown,
            _dirs: std::mem::take(&mut dirs),
        });
    }
    stacks
}

impl Stack {
    /// A store over this stack's saga log, with the built-in definition registered.
    pub async fn store(&self) -> Arc<LossyStore> {
        let inner = store::open(&self.log_url, 64, Duration::ZERO)
            .await
            .expect("open the log");
        let schemas = Arc::new(ParticipantSchemas::built_in().expect("the contracts"));
        let definitions = Definitions::new(inner.clone(), schemas);
        definitions
            .register_built_in()
            .await
            .expect("register place-order");
        Arc::new(LossyStore::new(inner, definitions))
    }

    /// A replica named `replica_id` over `store`, holding sagas for `lease`, its
    /// ownership loop running.
    pub fn replica(&self, store: Arc<LossyStore>, replica_id: &str, lease: Duration) -> Engine {
        self.replica_with_room(store, replica_id, lease, 10_000)
    }

    /// [`Stack::replica`] that drives at most `max_in_flight` sagas at once.
    pub fn replica_with_room(
        &self,
        store: Arc<LossyStore>,
        replica_id: &str,
        lease: Duration,
        max_in_flight: usize,
    ) -> Engine {
        self.replica_with(store, replica_id, lease, |s| {
            s.max_in_flight = max_in_flight
        })
    }

    /// [`Stack::replica`] with its settings changed by `tune`.
    pub fn replica_with(
        &self,
        store: Arc<LossyStore>,
        replica_id: &str,
        lease: Duration,
        tune: impl FnOnce(&mut Settings),
    ) -> Engine {
        let services = [
            ("orders.v1.Orders".to_string(), self.orders_url.clone()),
            (
                "invoices.v1.Invoices".to_string(),
                self.invoices_url.clone(),
            ),
        ];
        let participants = Participants::connect(&services, 1, Duration::from_secs(2), None)
            .expect("participant urls");
        let mut settings = Settings {
            policy: policy(),
            max_in_flight: 10_000,
            max_working: 256,
            max_queue_delay: Duration::from_secs(1),
            replica_id: replica_id.to_string(),
            lease,
        };
        tune(&mut settings);
        let definitions = store.definitions.clone();
        let engine = Engine::new(
            store,
            definitions,
            participants,
            Arc::new(SystemClock),
            Entropy::seeded(seed_of(replica_id)),
            settings,
        );
        engine.spawn_ownership();
        engine
    }
}

/// A seed of ids and jitter per replica name, so that two replicas never draw one id.
fn seed_of(replica_id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    replica_id.hash(&mut hasher);
    hasher.finish()
}

/// A place-order saga for `customer` under `key`.
pub fn order(key: Option<&str>, customer: &str) -> SagaStart {
    SagaStart {
        runnable: place_order(),
        key: key.map(str::to_string),
        input: order_input(customer),
    }
}

/// Polls `store` until every saga is finished, for at most `within`; returns the
/// unfinished ones' ids (empty when all finished).
pub async fn unfinished_after(store: &dyn SagaStore, within: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut unfinished = Vec::new();
        for status in [SagaStatus::Running, SagaStatus::Compensating] {
            let sagas = store
                .list(
                    &SagaFilter {
                        status: Some(status),
                        ..SagaFilter::default()
                    },
                    1_000,
                    None,
                )
                .await
                .expect("list");
            unfinished.extend(sagas.into_iter().map(|s| s.saga_id));
        }
        if unfinished.is_empty() || tokio::time::Instant::now() >= deadline {
            return unfinished;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The saga log, with the replies of the next inserts or claims lost on request: the
/// write commits, then the caller is told the database went away.
pub struct LossyStore {
    inner: Arc<dyn SagaStore>,
    definitions: Definitions,
    lose_inserts: AtomicU32,
    lose_claims: AtomicU32,
    lose_reads: AtomicU32,
}

impl LossyStore {
    fn new(inner: Arc<dyn SagaStore>, definitions: Definitions) -> Self {
        Self {
            inner,
            definitions,
            lose_inserts: AtomicU32::new(0),
            lose_claims: AtomicU32::new(0),
            lose_reads: AtomicU32::new(0),
        }
    }

    /// The next `n` inserts commit but report an error.
    pub fn lose_inserts(&self, n: u32) {
        self.lose_inserts.store(n, Ordering::SeqCst);
    }

    /// The next `n` reads of one saga fail as if the database went away.
    pub fn lose_reads(&self, n: u32) {
        self.lose_reads.store(n, Ordering::SeqCst);
    }

    /// The next `n` claims that take something commit but report an error.
    pub fn lose_claims(&self, n: u32) {
        self.lose_claims.store(n, Ordering::SeqCst);
    }
}

/// Takes one from `counter` if it is not zero.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn reply_lost() -> StoreError {
    let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reply lost");
    StoreError::Unavailable(sqlx::Error::Io(cut))
}

#[async_trait]
impl SagaStore for LossyStore {
    async fn insert(&self, new: &NewSaga<'_>) -> Result<Inserted, StoreError> {
        let inserted = self.inner.insert(new).await?;
        match take_one(&self.lose_inserts) {
            true => Err(reply_lost()),
            false => Ok(inserted),
        }
    }

    async fn insert_page(
        &self,
        news: &[NewSaga<'_>],
        feed: FeedLease<'_>,
        position: &str,
    ) -> Result<Vec<Inserted>, StoreError> {
        self.inner.insert_page(news, feed, position).await
    }

    async fn commit(&self, write: &SagaWrite<'_>) -> Result<(), StoreError> {
        self.inner.commit(write).await
    }

    async fn get(&self, saga_id: &str) -> Result<Option<SagaRecord>, StoreError> {
        match take_one(&self.lose_reads) {
            true => Err(reply_lost()),
            false => self.inner.get(saga_id).await,
        }
    }

    async fn get_by_key(&self, key: &str) -> Result<Option<SagaRecord>, StoreError> {
        self.inner.get_by_key(key).await
    }

    async fn list(
        &self,
        filter: &SagaFilter,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        self.inner.list(filter, limit, before).await
    }

    async fn changed_since(
        &self,
        filter: &SagaFilter,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        self.inner.changed_since(filter, since_ms, limit).await
    }

    async fn count(&self, filter: &SagaFilter) -> Result<Vec<(SagaStatus, u64)>, StoreError> {
        self.inner.count(filter).await
    }

    async fn claim(
        &self,
        which: Claim<'_>,
        claimer: Incarnation<'_>,
        lease_ms: i64,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let claimed = self
            .inner
            .claim(which, claimer, lease_ms, now_ms, limit)
            .await?;
        match !claimed.is_empty() && take_one(&self.lose_claims) {
            true => Err(reply_lost()),
            false => Ok(claimed),
        }
    }

    async fn register(&self, replica_id: &str) -> Result<i64, StoreError> {
        self.inner.register(replica_id).await
    }

    async fn renew(
        &self,
        incarnation: Incarnation<'_>,
        lease_ms: i64,
        saga_ids: &[&str],
    ) -> Result<Option<u64>, StoreError> {
        self.inner.renew(incarnation, lease_ms, saga_ids).await
    }

    async fn replicas(&self, fresh_ms: i64) -> Result<Vec<ReplicaRecord>, StoreError> {
        self.inner.replicas(fresh_ms).await
    }
}
