//! The engine against participants in this process, on every backend: no saga is left
//! without a driver, whichever commit of the saga log lost its reply.

mod stack;

use std::time::Duration;

use sqlx::Connection;
use tokio::time::Instant;

use crate::engine::{Engine, EngineError};
use saga_definitions::machine::SagaStatus;

use crate::store::{Claim, Incarnation, Lease, NewSaga, SagaRecord, SagaStore};
use crate::testing::{first_transition, order_input};
use stack::{LossyStore, order, stacks, stacks_with_order_faults, unfinished_after};

const LEASE: Duration = Duration::from_millis(300);
/// How long a test waits for sagas to end: far beyond the two lease periods the engine
/// promises, so that a slow machine does not fail it; a stranded saga never ends.
const PATIENCE: Duration = Duration::from_secs(20);

/// Inserts `n` sagas held by a replica that died long ago (its lease expired).
async fn orphans(store: &dyn SagaStore, n: usize) {
    let start = first_transition(1);
    for i in 0..n {
        let (id, key) = (format!("orphan-{i}"), format!("orphan-key-{i}"));
        let input = order_input(&format!("c{i}"));
        let new = NewSaga {
            saga_id: &id,
            idempotency_key: &key,
            definition: "place-order",
            definition_version: 1,
            input: &input,
            state: &start.state,
            log: &start.log,
            now_ms: 1,
            trace_context: "",
            lease: Lease {
                owner: "dead",
                ms: -60_000,
            },
        };
        store.insert(&new).await.expect("insert an orphan");
    }
}

#[tokio::test]
async fn a_saga_whose_insert_reply_was_lost_completes_when_its_key_is_retried_on_another_replica() {
    for stack in stacks().await {
        let store = stack.store().await;
        let a = stack.replica(store.clone(), "a", LEASE);
        let b = stack.replica(stack.store().await, "b", LEASE);
        place_losing_the_insert(&store, &a, &stack.log_url).await;
        let retried = b.start(order(Some("k1"), "c1"), deadline(), None).await;
        let saga = retried.expect("the retry answers");
        assert_eq!(
            saga.state.status(),
            SagaStatus::Completed,
            "{}",
            stack.log_url
        );
    }
}

#[tokio::test]
async fn a_saga_whose_insert_reply_was_lost_is_driven_by_its_replica_without_a_retry() {
    for stack in stacks().await {
        let store = stack.store().await;
        let a = stack.replica(store.clone(), "a", LEASE);
        place_losing_the_insert(&store, &a, &stack.log_url).await;
        let unfinished = unfinished_after(store.as_ref(), PATIENCE).await;
        assert_eq!(unfinished, Vec::<String>::new(), "{}", stack.log_url);
    }
}

#[tokio::test]
async fn sagas_whose_claim_reply_was_lost_are_claimed_again_and_driven() {
    for stack in stacks().await {
        let store = stack.store().await;
        orphans(store.as_ref(), 3).await;
        store.lose_claims(1);
        let _b = stack.replica(store.clone(), "b", LEASE);
        let unfinished = unfinished_after(store.as_ref(), PATIENCE).await;
        assert_eq!(unfinished, Vec::<String>::new(), "{}", stack.log_url);
        let saga = store.get("orphan-0").await.expect("get").expect("found");
        let claims = saga
            .log
            .iter()
            .filter(|e| e.record.detail.starts_with("claimed"));
        assert_eq!(claims.count(), 2, "claimed, reply lost, claimed again");
    }
}

#[tokio::test]
async fn a_saga_whose_fenced_write_cannot_be_read_back_is_claimed_again_and_driven() {
    // Slow calls: the version moves under the driver while it waits on one.
    for stack in stacks_with_order_faults("*:delay=300:1").await {
        let store = stack.store().await;
        let a = stack.replica(store.clone(), "a", LEASE);
        let placed = a.start(order(Some("k1"), "c1"), Instant::now(), None).await;
        assert!(placed.is_ok(), "{}: {placed:?}", stack.log_url);
        store.lose_reads(1);
        // A claim under a's own incarnation (as one whose reply was lost) takes it.
        let second = stack.store().await;
        let claimer = Incarnation {
            replica_id: "a",
            number: incarnation_of(second.as_ref(), "a").await,
        };
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let taken = second
            .claim(Claim::AtStart, claimer, lease_ms, 0, 10)
            .await
            .expect("claim");
        assert_eq!(taken.len(), 1, "{}", stack.log_url);
        let unfinished = unfinished_after(store.as_ref(), PATIENCE).await;
        assert_eq!(unfinished, Vec::<String>::new(), "{}", stack.log_url);
    }
}

#[tokio::test]
async fn a_saga_the_successors_start_skipped_while_its_predecessor_held_it_is_claimed_later() {
    // The predecessor's row lock, as its draining commit holds it, is PostgreSQL's alone.
    for stack in stacks_with_order_faults("*:delay=200:1").await {
        if !stack.log_url.starts_with("postgres") {
            continue;
        }
        let store = stack.store().await;
        let old = stack.replica(store.clone(), "a", LEASE);
        let placed = old
            .start(order(Some("k1"), "c1"), Instant::now(), None)
            .await;
        let saga_id = placed.expect("placed").saga_id;
        let mut holder = sqlx::PgConnection::connect(&stack.log_url)
            .await
            .expect("connect");
        // READ COMMITTED, as the store's writes run: the test database defaults to
        // REPEATABLE READ, where this lock fails if the saga's row moved meanwhile.
        let mut lock = holder
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .expect("begin");
        sqlx::query("SELECT 1 FROM sagas WHERE saga_id = $1 FOR UPDATE")
            .bind(&saga_id)
            .execute(&mut *lock)
            .await
            .expect("lock the row");
        let new = stack.replica(stack.store().await, "a", LEASE);
        // The successor starts while the row is held; the lock goes after a while
        // whatever the successor waits for (the predecessor's renewal may queue behind
        // the row, and the successor's registration behind that renewal).
        let release = async {
            tokio::time::sleep(LEASE).await;
            lock.rollback().await.expect("release the row");
        };
        tokio::join!(new.resume_own(), release);
        // The old process finds itself superseded and stops: nobody renews the saga it
        // held, and the new one claims it once its lease has passed.
        let unfinished = unfinished_after(store.as_ref(), PATIENCE).await;
        assert_eq!(unfinished, Vec::<String>::new());
        let saga = store.get(&saga_id).await.expect("get").expect("found");
        assert_eq!(saga.state.status(), SagaStatus::Completed);
    }
}

#[tokio::test]
async fn a_replica_claims_no_more_sagas_than_it_has_room_to_drive() {
    // Slow participants keep every claimed saga in flight for a while.
    for stack in stacks_with_order_faults("*:delay=150:1").await {
        let store = stack.store().await;
        orphans(store.as_ref(), 6).await;
        let _b = stack.replica_with_room(store.clone(), "b", LEASE, 2);
        let deadline = Instant::now() + PATIENCE;
        let mut most = 0;
        while Instant::now() < deadline {
            let running = store
                .list(
                    &crate::store::SagaFilter {
                        status: Some(SagaStatus::Running),
                        ..Default::default()
                    },
                    100,
                    None,
                )
                .await;
            let running = running.expect("list");
            let held = running.iter().filter(|s| s.owner == "b").count();
            most = most.max(held);
            if running.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            most, 2,
            "{}: at most its room, and it used it",
            stack.log_url
        );
        let unfinished = unfinished_after(store.as_ref(), PATIENCE).await;
        assert_eq!(unfinished, Vec::<String>::new(), "{}", stack.log_url);
    }
}

/// Places key `k1` through `replica` while `store` loses the insert's reply: the insert
/// commits, the caller is told it failed.
async fn place_losing_the_insert(store: &LossyStore, replica: &Engine, log_url: &str) {
    store.lose_inserts(1);
    let lost = replica
        .start(order(Some("k1"), "c1"), deadline(), None)
        .await;
    assert!(lost.is_err(), "{log_url}: the insert's reply was lost");
}

fn deadline() -> Instant {
    Instant::now() + PATIENCE
}

#[tokio::test]
async fn an_older_process_under_a_replica_id_stops_driving_once_a_newer_one_registers() {
    for stack in stacks().await {
        let old = stack.replica(stack.store().await, "a", LEASE);
        let first = old.start(order(Some("k1"), "c1"), deadline(), None).await;
        assert!(first.is_ok(), "{}: {first:?}", stack.log_url);
        let new = stack.replica(stack.store().await, "a", LEASE);
        new.resume_own().await;
        let deadline = deadline();
        let refused = loop {
            let placed = old.start(order(None, "c2"), deadline, None).await;
            if matches!(placed, Err(EngineError::ShuttingDown)) || Instant::now() >= deadline {
                break placed;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            matches!(refused, Err(EngineError::ShuttingDown)),
            "{}: {refused:?}",
            stack.log_url
        );
        let placed = new.start(order(Some("k3"), "c3"), deadline, None).await;
        let saga = placed.expect("the newer process drives");
        assert_eq!(saga.state.status(), SagaStatus::Completed);
    }
}

/// The incarnation `replica_id` registered last.
async fn incarnation_of(store: &dyn SagaStore, replica_id: &str) -> i64 {
    let replicas = store.replicas(i64::MAX).await.expect("replicas");
    replicas
        .iter()
        .find(|r| r.replica_id == replica_id)
        .map(|r| r.incarnation)
        .expect("the replica registered")
}

#[tokio::test]
async fn sagas_that_would_queue_too_long_for_a_place_are_refused_and_write_nothing() {
    // Slow participants and one place: the queue grows at once.
    for stack in stacks_with_order_faults("*:delay=150:1").await {
        let store = stack.store().await;
        let engine = stack.replica_with(store.clone(), "a", LEASE, |settings| {
            settings.max_working = 1;
        });
        let mut starts = tokio::task::JoinSet::new();
        for i in 0..12 {
            let (engine, key) = (engine.clone(), format!("k{i}"));
            starts.spawn(async move {
                let placed = engine.start(order(Some(&key), "c"), deadline(), None).await;
                (key, placed)
            });
        }
        let (mut completed, mut refused) = (0, 0);
        while let Some(joined) = starts.join_next().await {
            let (key, placed) = joined.expect("the start's task");
            match placed {
                Ok(saga) => {
                    assert_eq!(saga.state.status(), SagaStatus::Completed, "{key}");
                    completed += 1;
                }
                Err(EngineError::Overloaded) => {
                    let stored = store.get_by_key(&key).await.expect("get by key");
                    assert!(
                        stored.is_none(),
                        "{}: refused {key} was written",
                        stack.log_url
                    );
                    refused += 1;
                }
                Err(error) => panic!("{}: {key}: {error}", stack.log_url),
            }
        }
        assert!(
            completed > 0 && refused > 0,
            "{completed} completed, {refused} refused"
        );
        let again = engine
            .start(order(Some("k-after"), "c"), deadline(), None)
            .await;
        let saga = again.expect("admitted once the queue drained");
        assert_eq!(saga.state.status(), SagaStatus::Completed);
    }
}

/// A saga driven here from its start is answered from the driver's memory, without
/// reading the saga back: the same record as the log holds, but for the database's row
/// number and lease.
#[tokio::test]
async fn a_saga_driven_from_its_start_is_answered_as_its_log_holds_it() {
    for stack in stacks().await {
        let store = stack.store().await;
        let engine = stack.replica(store.clone(), "a", LEASE);
        // An invoice above the invoices' limit is refused: the order is cancelled.
        let mut refused = order(Some("k-refused"), "c2");
        let cents = invoices_svc::config::DEFAULT_MAX_INVOICE_CENTS + 1;
        refused.input["items"] = serde_json::json!([
            {"sku": "gold", "quantity": 1, "unit_price_cents": cents}
        ]);
        refused.input["total_cents"] = serde_json::json!(cents);
        for (start, ended) in [
            (order(Some("k-done"), "c1"), SagaStatus::Completed),
            (refused, SagaStatus::Compensated),
        ] {
            // A read of the saga would fail: the answer must not need one.
            store.lose_reads(1);
            let answered = engine
                .start(start, deadline(), None)
                .await
                .expect("answered");
            assert_eq!(answered.state.status(), ended, "{}", stack.log_url);
            let unread = store.get(&answered.saga_id).await;
            assert!(unread.is_err(), "the saga was read back: {}", stack.log_url);
            let logged = store
                .get(&answered.saga_id)
                .await
                .expect("get")
                .expect("found");
            assert!(!logged.log.is_empty());
            let unlogged = |record: SagaRecord| SagaRecord {
                row: 0,
                lease_until_ms: 0,
                ..record
            };
            assert_eq!(unlogged(answered), unlogged(logged), "{}", stack.log_url);
        }
    }
}
