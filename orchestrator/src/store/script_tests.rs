//! The one-script group commit against the statement-by-statement one, on SQLite files.

use serde_json::json;
use service_kit::db::Db;

use super::super::sql::{SqlStore, migrations};
use super::super::writes::{first_records, transition_records};
use super::super::writes::{insert_logs, insert_sagas, update_sagas};
use super::super::{Lease, SagaRecord, SagaStore};
use super::*;
use crate::testing::first_transition;
use saga_definitions::machine::{
    Effect, LogRecord, Operation, Outcome, Position, SagaState, SagaStatus,
};
use serde_json::Value;

/// A fresh SQLite database in `dir`.
async fn fresh(dir: &tempfile::TempDir, name: &str) -> Db {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    Db::open(&url, &migrations()).await.expect("open")
}

/// The SQLite write connection of `db`.
fn pool(db: &Db) -> &sqlx::SqlitePool {
    match db {
        Db::Sqlite(pools) => &pools.writes,
        Db::Postgres(_) => unreachable!("the script's tests open SQLite files"),
    }
}

/// A batch of two new sagas (one whose input needs escaping in JSON) and the first
/// saga's next transition.
struct Batch {
    inputs: [Value; 2],
    start: saga_definitions::machine::Transition,
    next: SagaState,
    log: Vec<LogRecord>,
}

impl Batch {
    fn new() -> Self {
        let next = SagaState {
            position: Position::Compensated,
            effects: vec![
                Effect::Done(json!({"order_id": "o-1"})),
                Effect::None,
                Effect::None,
            ],
            cause: Some("refused: \"limit\" \\ ünïcode".into()),
            requests: Vec::new(),
        };
        let log = vec![LogRecord {
            step: "create_order".into(),
            operation: Some(Operation::Compensation),
            outcome: Outcome::Succeeded,
            attempt: 2,
            detail: "line\nbreak, \"quoted\"".into(),
            status: SagaStatus::Compensated,
        }];
        Self {
            inputs: [
                json!({"customer_id": "c1"}),
                json!({"note": "a \"b\" \\ c ✓", "n": 1.5}),
            ],
            start: first_transition(10),
            next,
            log,
        }
    }

    fn news(&self) -> Vec<NewSaga<'_>> {
        ["s1", "s2"]
            .into_iter()
            .zip(&self.inputs)
            .map(|(id, input)| NewSaga {
                saga_id: id,
                idempotency_key: id,
                definition: "place-order",
                definition_version: 1,
                input,
                state: &self.start.state,
                log: &self.start.log,
                now_ms: 10,
                trace_context: "00-abc-def-01",
                lease: Lease {
                    owner: "a",
                    ms: 60_000,
                },
            })
            .collect()
    }

    /// The first saga's transition, as a writer that read `version`.
    fn write(&self, version: i64) -> SagaWrite<'_> {
        SagaWrite {
            saga_id: "s1",
            writer: "b",
            expected_version: version,
            state: &self.next,
            log: &self.log,
            log_len: 2,
            now_ms: 20,
            lease_ms: 60_000,
        }
    }
}

fn appends<'a>(news: &'a [NewSaga<'a>], writes: &'a [SagaWrite<'a>]) -> Vec<Append<'a>> {
    let firsts = news.iter().map(first_records);
    firsts
        .chain(writes.iter().map(transition_records))
        .collect()
}

/// Commits `news` and `writes` as one script, their rows serialised as their writers do.
async fn by_script(
    pool: &sqlx::SqlitePool,
    news: &[NewSaga<'_>],
    writes: &[SagaWrite<'_>],
) -> Result<(), StoreError> {
    let news = news
        .iter()
        .map(Rows::of_new)
        .collect::<Result<Vec<_>, _>>()?;
    let writes = writes
        .iter()
        .map(Rows::of_write)
        .collect::<Result<Vec<_>, _>>()?;
    let (news, writes): (Vec<_>, Vec<_>) = (news.iter().collect(), writes.iter().collect());
    commit(pool, &news, &writes).await
}

/// The batch's sagas as stored, their leases (the database's clock) left out.
async fn stored(db: &Db) -> Vec<Option<SagaRecord>> {
    let store = SqlStore::new(db.clone(), 8);
    let mut sagas = Vec::new();
    for id in ["s1", "s2", "s3"] {
        let saga = store.get(id).await.expect("get");
        sagas.push(saga.map(|s| SagaRecord {
            lease_until_ms: 0,
            ..s
        }));
    }
    sagas
}

#[tokio::test]
async fn the_script_stores_what_the_statements_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (by_script_db, by_statements) = (fresh(&dir, "a.db").await, fresh(&dir, "b.db").await);
    let batch = Batch::new();
    let news = batch.news();
    for writes in [&[][..], &[batch.write(1)][..]] {
        let news = if writes.is_empty() { &news[..] } else { &[] };
        let appends = appends(news, writes);
        by_script(pool(&by_script_db), news, writes)
            .await
            .expect("script");
        let mut tx = by_statements.begin_write().await.expect("begin");
        insert_sagas(&mut tx, news).await.expect("insert");
        update_sagas(&mut tx, writes).await.expect("update");
        insert_logs(&mut tx, &appends).await.expect("log");
        tx.commit().await.expect("commit");
    }
    let sagas = stored(&by_script_db).await;
    assert_eq!(sagas, stored(&by_statements).await);
    let s1 = sagas[0].as_ref().expect("s1 stored");
    assert_eq!((s1.version, s1.log_len, s1.owner.as_str()), (2, 3, "b"));
    assert_eq!(s1.state, batch.next);
    assert_eq!(sagas[1].as_ref().map(|s| &s.input), Some(&batch.inputs[1]));
}

#[tokio::test]
async fn a_fenced_write_or_a_taken_key_stops_the_script_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh(&dir, "a.db").await;
    let batch = Batch::new();
    let news = batch.news();
    by_script(pool(&db), &news, &[]).await.expect("first batch");
    let before = stored(&db).await;

    let mut third = batch.news()[..1].to_vec();
    (third[0].saga_id, third[0].idempotency_key) = ("s3", "k3");
    let fenced = [batch.write(7)];
    assert!(by_script(pool(&db), &third, &fenced).await.is_err());
    assert_eq!(stored(&db).await, before, "nothing of the fenced batch");

    third[0].idempotency_key = "s1";
    assert!(by_script(pool(&db), &third, &[]).await.is_err());
    assert_eq!(
        stored(&db).await,
        before,
        "nothing of the batch with a taken key"
    );

    // The connections are out of the stopped transactions: the next script commits.
    let write = [batch.write(1)];
    by_script(pool(&db), &[], &write).await.expect("after");
    let after = stored(&db).await;
    assert_eq!(after[0].as_ref().map(|s| s.version), Some(2));
}
