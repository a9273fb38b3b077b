//! Store tests, each on a fresh database of every backend: a SQLite file always, and a
//! new PostgreSQL database when `SAGA_TEST_POSTGRES_URL` names a server.

use std::sync::Arc;
use std::time::Duration;

use service_kit::testing::fresh_urls;

use super::*;
use crate::engine::{Clock, SystemClock};
use saga_definitions::machine::{Effect, LogRecord, Outcome, Position, SAGA_STEP, SagaState};

use crate::testing::{first_transition, order_input};

mod listing;

/// A fresh store of each available backend; the folder keeps the SQLite file alive.
async fn stores() -> (tempfile::TempDir, Vec<Arc<dyn SagaStore>>) {
    let (dir, urls) = fresh_urls("log.db").await;
    let mut stores: Vec<Arc<dyn SagaStore>> = Vec::with_capacity(urls.len());
    for url in urls {
        stores.push(
            open(&url, 64, Duration::ZERO)
                .await
                .expect("open the test store"),
        );
    }
    (dir, stores)
}

fn order(customer: &str) -> Value {
    order_input(customer)
}

/// A place-order saga compensated with nothing to undo.
fn compensated() -> SagaState {
    SagaState {
        position: Position::Compensated,
        effects: vec![Effect::None; 3],
        cause: Some("refused".into()),
        requests: Vec::new(),
    }
}

/// A lease that holds for the whole test.
const FRESH: i64 = 60_000;
/// A lease that ran out before it was written (renewing with it expires a lease).
const EXPIRED: i64 = -60_000;

async fn insert(store: &dyn SagaStore, id: &str, key: &str, order: &Value) -> Inserted {
    insert_owned(store, id, key, order, lease("a", FRESH)).await
}

/// Inserts a saga under `lease`.
async fn insert_owned(
    store: &dyn SagaStore,
    id: &str,
    key: &str,
    order: &Value,
    lease: Lease<'_>,
) -> Inserted {
    let start = first_transition(10);
    let new = NewSaga {
        saga_id: id,
        idempotency_key: key,
        definition: "place-order",
        definition_version: 1,
        input: order,
        state: &start.state,
        log: &start.log,
        now_ms: 10,
        trace_context: "",
        lease,
    };
    store.insert(&new).await.expect("insert")
}

fn lease(owner: &str, ms: i64) -> Lease<'_> {
    Lease { owner, ms }
}

/// A claimer that never registered (so nothing supersedes it).
fn unregistered(replica_id: &str) -> Incarnation<'_> {
    Incarnation {
        replica_id,
        number: 0,
    }
}

/// The incarnation of `replica_id` registered last.
async fn current<'a>(store: &dyn SagaStore, replica_id: &'a str) -> Incarnation<'a> {
    let live = store.replicas(i64::MAX).await.expect("replicas");
    let number = live
        .iter()
        .find(|r| r.replica_id == replica_id)
        .map(|r| r.incarnation)
        .expect("registered");
    Incarnation { replica_id, number }
}

/// Registers a new incarnation of `owner` and renews `saga_ids` for it.
async fn renew(
    store: &dyn SagaStore,
    owner: &str,
    ms: i64,
    saga_ids: &[&str],
) -> Result<Option<u64>, StoreError> {
    let number = store.register(owner).await?;
    let incarnation = Incarnation {
        replica_id: owner,
        number,
    };
    store.renew(incarnation, ms, saga_ids).await
}

/// Each record's seq, step, writer and version.
fn stamps(saga: &SagaRecord) -> Vec<(u32, &str, &str, i64)> {
    saga.log
        .iter()
        .map(|e| (e.seq, e.record.step.as_str(), e.writer.as_str(), e.version))
        .collect()
}

fn ids(sagas: &[SagaRecord]) -> Vec<&str> {
    sagas.iter().map(|s| s.saga_id.as_str()).collect()
}

#[tokio::test]
async fn an_inserted_saga_reads_back_with_its_log() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        let order = order("c1");
        assert!(matches!(
            insert(store, "s1", "k1", &order).await,
            Inserted::New
        ));
        let saga = store.get("s1").await.expect("get").expect("found");
        assert_eq!(saga.input, order);
        assert_eq!(saga.state, first_transition(10).state);
        assert_eq!((saga.version, saga.log_len), (1, 2));
        assert_eq!(
            stamps(&saga),
            vec![(1, SAGA_STEP, "a", 1), (2, "create_order", "a", 1)]
        );
    }
}

#[tokio::test]
async fn a_taken_key_returns_the_existing_saga_and_writes_nothing() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert(store, "s1", "k1", &order("c1")).await;
        let Inserted::Existing(existing) = insert(store, "s2", "k1", &order("c2")).await else {
            panic!("expected the existing saga");
        };
        assert_eq!(existing.saga_id, "s1");
        assert!(store.get("s2").await.expect("get").is_none());
    }
}

#[tokio::test]
async fn a_commit_appends_the_log_and_a_stale_version_is_fenced() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert(store, "s1", "k1", &order("c1")).await;
        let next = compensated();
        let log = vec![LogRecord {
            step: SAGA_STEP.to_string(),
            operation: None,
            outcome: Outcome::Failed,
            attempt: 0,
            detail: "refused".into(),
            status: SagaStatus::Compensated,
        }];
        let write = SagaWrite {
            saga_id: "s1",
            writer: "a",
            expected_version: 1,
            state: &next,
            log: &log,
            log_len: 2,
            now_ms: 20,
            lease_ms: FRESH,
        };
        store.commit(&write).await.expect("commit");
        let saga = store.get("s1").await.expect("get").expect("found");
        assert_eq!((saga.version, saga.log_len), (2, 3));
        assert_eq!(stamps(&saga)[2], (3, SAGA_STEP, "a", 2));
        assert_eq!(saga.state, next);
        assert!(matches!(
            store.commit(&write).await,
            Err(StoreError::Fenced(_))
        ));
        let mine = store
            .claim(Claim::AtStart, unregistered("a"), FRESH, 20, 10)
            .await
            .expect("claim");
        assert!(mine.is_empty(), "a finished saga is never claimed");
    }
}

#[tokio::test]
async fn lists_page_newest_first_and_filter_by_status() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        for i in 0..5 {
            insert(store, &format!("s{i}"), &format!("k{i}"), &order("c")).await;
        }
        let all = SagaFilter::default();
        let first = store.list(&all, 2, None).await.expect("list");
        let ids: Vec<_> = first.iter().map(|s| s.saga_id.as_str()).collect();
        assert_eq!(ids, vec!["s4", "s3"]);
        let rest = store
            .list(&all, 10, first.last().map(|s| s.row))
            .await
            .expect("list");
        assert_eq!(rest.len(), 3);
        let of = |status| SagaFilter {
            status: Some(status),
            ..SagaFilter::default()
        };
        let running = store
            .list(&of(SagaStatus::Running), 10, None)
            .await
            .expect("list");
        assert_eq!(running.len(), 5);
        let done = store
            .list(&of(SagaStatus::Completed), 10, None)
            .await
            .expect("list");
        assert!(done.is_empty());
        let mine = store
            .claim(Claim::AtStart, unregistered("a"), FRESH, 20, 10)
            .await
            .expect("claim");
        assert_eq!(self::ids(&mine), vec!["s0", "s1", "s2", "s3", "s4"]);
    }
}

#[tokio::test]
async fn an_expired_lease_is_claimed_by_another_replica_which_fences_the_old_owner() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        // "a" never registered: no heartbeat, so its lapsed leases are anyone's.
        insert(store, "s0", "k0", &order("c0")).await;
        insert_owned(store, "s1", "k1", &order("c1"), lease("a", EXPIRED)).await;
        let taken = store
            .claim(Claim::Expired, unregistered("b"), FRESH, 150, 10)
            .await
            .expect("claim");
        assert_eq!(ids(&taken), vec!["s1"], "a live lease (s0) is not taken");
        assert_eq!((taken[0].version, taken[0].log_len), (2, 3));
        let s1 = store.get("s1").await.expect("get").expect("found");
        assert_eq!(stamps(&s1)[2], (3, SAGA_STEP, "b", 2));
        assert_eq!(s1.log[2].record.outcome, Outcome::Claimed);
        let detail = &s1.log[2].record.detail;
        assert!(
            detail.starts_with("claimed by b from a: lease over ")
                && detail.ends_with("heartbeat none"),
            "{detail}"
        );
        let again = store
            .claim(Claim::Expired, unregistered("c"), FRESH, 150, 10)
            .await
            .expect("claim");
        assert!(again.is_empty(), "b holds it now");
        let stale = SagaWrite {
            saga_id: "s1",
            writer: "a",
            expected_version: 1,
            state: &taken[0].state,
            log: &[],
            log_len: 2,
            now_ms: 160,
            lease_ms: FRESH,
        };
        assert!(matches!(
            store.commit(&stale).await,
            Err(StoreError::Fenced(_))
        ));
    }
}

#[tokio::test]
async fn a_claimer_whose_clock_runs_ahead_cannot_take_a_live_lease() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert(store, "s1", "k1", &order("c1")).await;
        let an_hour_ahead = SystemClock.now_ms() + 3_600_000;
        let taken = store
            .claim(Claim::Expired, unregistered("b"), FRESH, an_hour_ahead, 10)
            .await
            .expect("claim");
        assert!(taken.is_empty(), "leases run on the database's clock");
    }
}

#[tokio::test]
async fn renewing_extends_only_the_listed_sagas_the_owner_holds() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert_owned(store, "s1", "k1", &order("c"), lease("a", EXPIRED)).await;
        insert_owned(store, "s2", "k2", &order("c"), lease("b", EXPIRED)).await;
        insert_owned(store, "s3", "k3", &order("c"), lease("a", EXPIRED)).await;
        let renewed = renew(store, "a", FRESH, &["s1", "s2"]).await;
        assert_eq!(
            renewed.expect("renew"),
            Some(1),
            "b's saga is not a's to renew"
        );
        assert_eq!(renew(store, "a", FRESH, &[]).await.expect("renew"), Some(0));
        let taken = store
            .claim(Claim::Expired, unregistered("c"), FRESH, 500, 10)
            .await
            .expect("claim");
        assert_eq!(
            ids(&taken),
            vec!["s2"],
            "a is alive: its lapsed s3 is left to it"
        );
    }
}

#[tokio::test]
async fn a_newer_incarnation_of_a_replica_id_fences_the_older_ones_renewals() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert_owned(store, "s1", "k1", &order("c"), lease("a", EXPIRED)).await;
        let old = store.register("a").await.expect("register");
        let new = store.register("a").await.expect("register again");
        assert_eq!(new, old + 1);
        let stale = Incarnation {
            replica_id: "a",
            number: old,
        };
        let refused = store.renew(stale, FRESH, &["s1"]).await.expect("renew");
        assert_eq!(refused, None, "the older incarnation is superseded");
        for which in [Claim::AtStart, Claim::OwnExpired, Claim::ExpiredSaga("s1")] {
            let taken = store.claim(which, stale, FRESH, 50, 10).await;
            assert!(
                taken.expect("claim").is_empty(),
                "{which:?} by a stale incarnation"
            );
        }
        let current = Incarnation {
            replica_id: "a",
            number: new,
        };
        let renewed = store.renew(current, FRESH, &["s1"]).await.expect("renew");
        assert_eq!(renewed, Some(1));
        let live = store.replicas(60_000).await.expect("replicas");
        let seen: Vec<_> = live
            .iter()
            .map(|r| (r.replica_id.as_str(), r.incarnation, r.sagas_held))
            .collect();
        assert_eq!(seen, vec![("a", new, 1)]);
        assert!(live[0].heartbeat_age_ms < 60_000, "{live:?}");
    }
}

#[tokio::test]
async fn a_replicas_own_saga_it_stopped_renewing_is_claimed_by_itself_once_expired() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert(store, "s1", "k1", &order("c")).await;
        let early = store
            .claim(Claim::Expired, unregistered("a"), FRESH, 50, 10)
            .await;
        assert!(early.expect("claim").is_empty(), "its lease is still fresh");
        renew(store, "a", EXPIRED, &["s1"]).await.expect("expire");
        let a = current(store, "a").await;
        let taken = store.claim(Claim::Expired, a, FRESH, 150, 10).await;
        let taken = taken.expect("claim");
        assert_eq!(ids(&taken), vec!["s1"]);
        assert_eq!((taken[0].version, taken[0].owner.as_str()), (2, "a"));
    }
}

#[tokio::test]
async fn one_saga_is_claimed_by_id_only_once_its_lease_expired() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert(store, "s1", "k1", &order("c")).await;
        insert_owned(store, "s2", "k2", &order("c"), lease("a", EXPIRED)).await;
        insert_owned(store, "s3", "k3", &order("c"), lease("a", EXPIRED)).await;
        let early = store
            .claim(Claim::ExpiredSaga("s1"), unregistered("b"), FRESH, 50, 10)
            .await;
        assert!(early.expect("claim").is_empty(), "a's lease is still fresh");
        let taken = store
            .claim(Claim::ExpiredSaga("s2"), unregistered("b"), FRESH, 150, 10)
            .await
            .expect("claim");
        assert_eq!(ids(&taken), vec!["s2"]);
        let s2 = store.get("s2").await.expect("get").expect("found");
        assert_eq!((s2.owner.as_str(), s2.version), ("b", 2));
        let s3 = store.get("s3").await.expect("get").expect("found");
        assert_eq!(
            (s3.owner.as_str(), s3.version),
            ("a", 1),
            "only s2 is claimed"
        );
    }
}

#[tokio::test]
async fn a_lapsed_lease_of_a_live_replica_is_left_to_it_to_claim() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert_owned(store, "s1", "k1", &order("c"), lease("a", EXPIRED)).await;
        renew(store, "a", FRESH, &[]).await.expect("a heartbeat");
        let taken = store
            .claim(Claim::Expired, unregistered("b"), FRESH, 50, 10)
            .await;
        assert!(taken.expect("claim").is_empty(), "a is alive");
        let own = store
            .claim(Claim::ExpiredSaga("s1"), unregistered("b"), FRESH, 50, 10)
            .await;
        assert!(
            own.expect("claim").is_empty(),
            "a retried key does not take it either"
        );
        let others = store
            .claim(Claim::OwnExpired, unregistered("b"), FRESH, 50, 10)
            .await;
        assert!(
            others.expect("claim").is_empty(),
            "only a's own are a's to take"
        );
        let a = current(store, "a").await;
        let taken = store.claim(Claim::OwnExpired, a, FRESH, 50, 10).await;
        assert_eq!(ids(&taken.expect("claim")), vec!["s1"], "a takes its own");
    }
}

#[tokio::test]
async fn at_its_start_a_replica_takes_every_saga_on_sqlite_and_only_its_own_on_postgres() {
    let (_dir, urls) = fresh_urls("log.db").await;
    for url in urls {
        let store = open(&url, 64, Duration::ZERO)
            .await
            .expect("open the test store");
        let store = store.as_ref();
        insert_owned(store, "s1", "k1", &order("c"), lease("a", FRESH)).await;
        insert_owned(store, "s2", "k2", &order("c"), lease("b", FRESH)).await;
        let taken = store
            .claim(Claim::AtStart, unregistered("a"), FRESH, 50, 10)
            .await
            .expect("claim");
        let expected = match url.starts_with("sqlite:") {
            true => vec!["s1", "s2"],
            false => vec!["s1"],
        };
        assert_eq!(ids(&taken), expected, "{url}");
    }
}

#[tokio::test]
async fn concurrent_claims_never_take_the_same_saga() {
    let (_dir, stores) = stores().await;
    for store in stores {
        for i in 0..40 {
            insert_owned(
                store.as_ref(),
                &format!("s{i}"),
                &format!("k{i}"),
                &order("c"),
                lease("dead", EXPIRED),
            )
            .await;
        }
        let claimers = ["r1", "r2", "r3", "r4"].map(|owner| {
            let store = store.clone();
            tokio::spawn(async move {
                let claimed = store
                    .claim(Claim::Expired, unregistered(owner), FRESH, 1_000, 15)
                    .await
                    .expect("claim");
                claimed.into_iter().map(|s| s.saga_id).collect::<Vec<_>>()
            })
        });
        let mut all = Vec::new();
        for claimer in claimers {
            all.extend(claimer.await.expect("join"));
        }
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!(
            (all.len(), total),
            (40, 40),
            "every saga claimed exactly once"
        );
    }
}

#[tokio::test]
async fn concurrent_writes_share_commits_and_a_fenced_one_fails_alone() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let inserts = (0..30).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                insert(
                    store.as_ref(),
                    &format!("s{i}"),
                    &format!("k{i}"),
                    &order("c"),
                )
                .await
            })
        });
        for inserted in inserts {
            assert!(matches!(inserted.await.expect("join"), Inserted::New));
        }
        let next = compensated();
        let commits = (0..30).map(|i| {
            let (store, next) = (store.clone(), next.clone());
            tokio::spawn(async move {
                let write = SagaWrite {
                    saga_id: &format!("s{i}"),
                    writer: "a",
                    // s7 names a version it never read.
                    expected_version: if i == 7 { 5 } else { 1 },
                    state: &next,
                    log: &[],
                    log_len: 2,
                    now_ms: 20,
                    lease_ms: FRESH,
                };
                store.commit(&write).await
            })
        });
        for (i, committed) in commits.enumerate() {
            let committed = committed.await.expect("join");
            match i {
                7 => assert!(matches!(committed, Err(StoreError::Fenced(_)))),
                _ => assert!(committed.is_ok(), "s{i}: {committed:?}"),
            }
        }
        let s7 = store.get("s7").await.expect("get").expect("found");
        assert_eq!(s7.version, 1);
        let s8 = store.get("s8").await.expect("get").expect("found");
        assert_eq!((s8.version, s8.state), (2, next));
    }
}

#[tokio::test]
async fn a_claim_is_never_stamped_before_the_write_it_follows() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let store = store.as_ref();
        insert_owned(store, "s1", "k1", &order("c"), lease("a", EXPIRED)).await;
        // Claimers that read their clocks long before their claims ran (paused), the
        // first with a lease over at once.
        for (claimer, lease_ms, now_ms) in [("b", EXPIRED, 30), ("c", FRESH, 20)] {
            let taken = store
                .claim(Claim::Expired, unregistered(claimer), lease_ms, now_ms, 10)
                .await
                .expect("claim");
            assert_eq!(ids(&taken), vec!["s1"], "{claimer}");
        }
        let saga = store.get("s1").await.expect("get").expect("found");
        let at: Vec<i64> = saga.log.iter().map(|e| e.at_ms).collect();
        assert!(at.is_sorted(), "stamps go back: {at:?}");
    }
}

#[tokio::test]
async fn a_page_of_sagas_and_its_feed_position_commit_together_or_not_at_all() {
    let (_dir, urls) = fresh_urls("page.db").await;
    for url in urls {
        let store = open(&url, 64, Duration::ZERO).await.expect("open");
        let feed = |holder| FeedLease {
            feed: "sync",
            holder,
            now_ms: 10,
            lease_ms: FRESH,
        };
        assert!(store.hold_feed(feed("a")).await.expect("hold").is_some());
        insert(store.as_ref(), "s0", "k0", &order("c0")).await;
        let (start, input) = (first_transition(10), order("c1"));
        let row = |saga_id, idempotency_key| NewSaga {
            saga_id,
            idempotency_key,
            definition: "place-order",
            definition_version: 1,
            input: &input,
            state: &start.state,
            log: &start.log,
            now_ms: 10,
            trace_context: "",
            lease: lease("a", FRESH),
        };
        let rows = [row("s1", "k1"), row("s2", "k0")];
        let fenced = store.insert_page(&rows, feed("b"), "p1").await;
        assert!(matches!(fenced, Err(StoreError::Fenced(_))), "{fenced:?}");
        assert!(store.get("s1").await.expect("get").is_none(), "{url}");
        let done = store
            .insert_page(&rows, feed("a"), "p1")
            .await
            .expect("page");
        assert!(
            matches!(done[..], [Inserted::New, Inserted::Existing(_)]),
            "{done:?}"
        );
        assert!(store.get("s1").await.expect("get").is_some());
        assert!(store.get("s2").await.expect("get").is_none());
        let position = store.hold_feed(feed("a")).await.expect("hold");
        assert_eq!(position.as_deref(), Some("p1"));
    }
}
