//! The group commit in one go against the statement-by-statement one, on every backend.

use std::collections::HashSet;

use serde_json::json;
use service_kit::db::Db;
use service_kit::testing::databases;

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

/// Commits `news` and `writes` in one go, their rows serialised as their writers do.
async fn by_script(
    db: &Db,
    news: &[NewSaga<'_>],
    writes: &[SagaWrite<'_>],
) -> Result<Written, StoreError> {
    let news = news
        .iter()
        .map(Rows::of_new)
        .collect::<Result<Vec<_>, _>>()?;
    let writes = writes
        .iter()
        .map(Rows::of_write)
        .collect::<Result<Vec<_>, _>>()?;
    let (news, writes): (Vec<_>, Vec<_>) = (news.iter().collect(), writes.iter().collect());
    commit(db, &news, &writes).await
}

/// What the backend of `db` answers when it wrote the sagas `ids` of a batch in one go:
/// all of it on SQLite, whose script commits nothing unless it commits everything.
fn written(db: &Db, ids: &[&str]) -> Written {
    match db {
        Db::Sqlite(_) => Written::All,
        Db::Postgres(_) => Written::Only(ids.iter().map(|id| id.to_string()).collect()),
    }
}

/// The batch's sagas as stored, their leases (the database's clock) left out.
async fn stored(db: &Db) -> Vec<Option<SagaRecord>> {
    let store = SqlStore::new(db.clone(), 8);
    let mut sagas = Vec::new();
    for id in ["s1", "s2", "s3", "s4"] {
        let saga = store.get(id).await.expect("get");
        sagas.push(saga.map(|s| SagaRecord {
            lease_until_ms: 0,
            ..s
        }));
    }
    sagas
}

#[tokio::test]
async fn the_batch_in_one_go_stores_what_the_statements_store() {
    let (_a, in_one_go) = databases(&migrations()).await;
    let (_b, by_statements) = databases(&migrations()).await;
    for (in_one_go, by_statements) in in_one_go.iter().zip(&by_statements) {
        let batch = Batch::new();
        let news = batch.news();
        for writes in [&[][..], &[batch.write(1)][..]] {
            let news = if writes.is_empty() { &news[..] } else { &[] };
            let appends = appends(news, writes);
            let ids: Vec<&str> = news.iter().map(|n| n.saga_id).collect();
            let ids = if writes.is_empty() { ids } else { vec!["s1"] };
            let outcome = by_script(in_one_go, news, writes).await.expect("in one go");
            assert_eq!(outcome, written(in_one_go, &ids));
            let mut tx = by_statements.begin_write().await.expect("begin");
            insert_sagas(&mut tx, news).await.expect("insert");
            update_sagas(&mut tx, writes).await.expect("update");
            insert_logs(&mut tx, &appends).await.expect("log");
            tx.commit().await.expect("commit");
        }
        let sagas = stored(in_one_go).await;
        assert_eq!(sagas, stored(by_statements).await);
        let s1 = sagas[0].as_ref().expect("s1 stored");
        assert_eq!((s1.version, s1.log_len, s1.owner.as_str()), (2, 3, "b"));
        assert_eq!(s1.state, batch.next);
        assert_eq!(sagas[1].as_ref().map(|s| &s.input), Some(&batch.inputs[1]));
    }
}

/// SQLite's script stops at a fenced write or a taken key and writes nothing of its
/// batch; PostgreSQL's statement writes the rest of it and answers what it wrote.
#[tokio::test]
async fn a_fenced_write_or_a_taken_key_is_left_out_of_the_batch() {
    let (_dir, dbs) = databases(&migrations()).await;
    for db in &dbs {
        let sqlite = matches!(db, Db::Sqlite(_));
        let batch = Batch::new();
        let news = batch.news();
        by_script(db, &news, &[]).await.expect("first batch");
        let before = stored(db).await;

        let mut third = batch.news()[..1].to_vec();
        (third[0].saga_id, third[0].idempotency_key) = ("s3", "k3");
        let fenced = [batch.write(7)];
        let outcome = by_script(db, &third, &fenced).await;
        let after = stored(db).await;
        assert_eq!(after[0], before[0], "nothing of the fenced write");
        if sqlite {
            assert!(outcome.is_err());
            assert_eq!(after, before, "nothing of SQLite's batch");
        } else {
            assert_eq!(outcome.ok(), Some(written(db, &["s3"])));
            let s3 = after[2]
                .as_ref()
                .expect("the new saga beside the fenced write");
            assert_eq!(s3.log.len(), batch.start.log.len());
        }

        (third[0].saga_id, third[0].idempotency_key) = ("s4", "s1");
        let outcome = by_script(db, &third, &[]).await;
        match sqlite {
            true => assert!(outcome.is_err()),
            false => assert_eq!(outcome.ok(), Some(Written::Only(HashSet::new()))),
        }
        assert_eq!(
            stored(db).await,
            after,
            "nothing of the batch with a taken key"
        );

        // The connections are out of the stopped transactions: the next batch commits.
        let write = [batch.write(1)];
        let outcome = by_script(db, &[], &write).await.expect("after");
        assert_eq!(outcome, written(db, &["s1"]));
        let after = stored(db).await;
        assert_eq!(after[0].as_ref().map(|s| s.version), Some(2));
    }
}
