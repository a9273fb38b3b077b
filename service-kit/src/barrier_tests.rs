//! Barrier tests, each on a fresh database of every backend: a SQLite file always, and a
//! new PostgreSQL database when `SAGA_TEST_POSTGRES_URL` names a server.

use super::*;
use crate::db::Db;
use crate::testing::{databases, orders_migrations};

const CREATE: Step = Step {
    saga_id: "s1",
    op: "create",
    kind: StepKind::Action {
        undone_by: Some("cancel"),
    },
};
const CANCEL: Step = Step {
    saga_id: "s1",
    op: "cancel",
    kind: StepKind::Compensation { undoes: "create" },
};

/// One call through the barrier, committed, with `answer` recorded when it takes effect.
async fn run(db: &Db, step: &Step<'_>, answer: &[u8]) -> Entry {
    let mut tx = db.begin_write().await.expect("begin");
    let entry = enter(&mut tx, step).await.expect("enter");
    if matches!(entry, Entry::First | Entry::NothingToUndo) {
        finish(&mut tx, step, answer).await.expect("finish");
    }
    tx.commit().await.expect("commit");
    entry
}

#[tokio::test]
async fn a_repeat_gets_the_first_answer() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        assert_eq!(run(&db, &CREATE, b"first").await, Entry::First);
        assert_eq!(
            run(&db, &CREATE, b"second").await,
            Entry::Repeat(b"first".to_vec())
        );
    }
}

#[tokio::test]
async fn a_compensation_without_its_action_leaves_a_tombstone_that_refuses_the_action() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        assert_eq!(run(&db, &CANCEL, b"none").await, Entry::NothingToUndo);
        assert_eq!(run(&db, &CREATE, b"late").await, Entry::AlreadyCompensated);
        assert_eq!(
            run(&db, &CANCEL, b"again").await,
            Entry::Repeat(b"none".to_vec())
        );
    }
}

#[tokio::test]
async fn a_compensation_after_its_action_undoes_it() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        assert_eq!(run(&db, &CREATE, b"made").await, Entry::First);
        assert_eq!(run(&db, &CANCEL, b"undone").await, Entry::First);
        assert_eq!(
            run(&db, &CREATE, b"x").await,
            Entry::Repeat(b"made".to_vec())
        );
    }
}

#[tokio::test]
async fn a_rolled_back_call_leaves_no_record() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let mut tx = db.begin_write().await.expect("begin");
        assert_eq!(enter(&mut tx, &CREATE).await.expect("enter"), Entry::First);
        tx.rollback().await.expect("rollback");
        assert_eq!(run(&db, &CREATE, b"made").await, Entry::First);
    }
}

#[tokio::test]
async fn concurrent_repeats_take_effect_once() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let calls = (0..8).map(|i| {
            let db = db.clone();
            tokio::spawn(async move { run(&db, &CREATE, format!("{i}").as_bytes()).await })
        });
        let mut firsts = 0;
        for call in calls.collect::<Vec<_>>() {
            if call.await.expect("join") == Entry::First {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 1);
    }
}

#[tokio::test]
async fn an_action_racing_its_compensation_is_either_undone_or_refused() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let races = (0..16).map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let saga_id = format!("s{i}");
                let create = Step {
                    saga_id: &saga_id,
                    ..CREATE
                };
                let cancel = Step {
                    saga_id: &saga_id,
                    ..CANCEL
                };
                tokio::join!(run(&db, &create, b"made"), run(&db, &cancel, b"undone"))
            })
        });
        for race in races.collect::<Vec<_>>() {
            let outcome = race.await.expect("join");
            assert!(
                matches!(
                    outcome,
                    (Entry::First, Entry::First)
                        | (Entry::AlreadyCompensated, Entry::NothingToUndo)
                ),
                "{outcome:?}"
            );
        }
    }
}

#[test]
fn the_lock_key_of_a_saga_is_its_fnv_1a_hash() {
    let published = [
        ("", 0xcbf2_9ce4_8422_2325_u64),
        ("a", 0xaf63_dc4c_8601_ec8c),
    ];
    for (saga_id, hash) in published {
        assert_eq!(lock_key(saga_id), i64::from_le_bytes(hash.to_le_bytes()));
    }
}

/// A create and its cancel racing in two writers (two processes' pools) on a database
/// whose default isolation is REPEATABLE READ: the write transactions pin READ COMMITTED,
/// so after the saga's lock each call sees the other's record. Either the create went
/// first and the cancel undid it, or the cancel left a tombstone and the create was
/// refused; never a created order beside a tombstone.
#[tokio::test]
async fn a_create_racing_its_cancel_is_undone_or_refused_whatever_the_default_isolation() {
    let Ok(server) = std::env::var(crate::testing::POSTGRES_ENV) else {
        eprintln!("{}: SKIPPED (no PostgreSQL)", crate::testing::POSTGRES_ENV);
        return;
    };
    let url = crate::db::fresh_postgres_database(&server)
        .await
        .expect("a database");
    let name = url.rsplit('/').next().unwrap_or_default().to_string();
    let admin = Db::open(&url, &orders_migrations()).await.expect("open");
    let mut tx = admin.begin_write().await.expect("begin");
    crate::on_backend!(&mut tx, conn => sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET default_transaction_isolation TO 'repeatable read'"
    )))
    .execute(conn)
    .await
    .map(|_| ())
    .expect("set the default isolation"));
    tx.commit().await.expect("commit");
    let (first, second) = (
        Db::open(&url, &orders_migrations()).await.expect("open"),
        Db::open(&url, &orders_migrations()).await.expect("open"),
    );
    let ids: Vec<String> = (0..200).map(|i| format!("race-{i}")).collect();
    let races = ids.iter().map(|id| {
        let (first, second, id) = (first.clone(), second.clone(), id.clone());
        tokio::spawn(async move {
            let create = Step {
                saga_id: &id,
                ..CREATE
            };
            let cancel = Step {
                saga_id: &id,
                ..CANCEL
            };
            let (created, cancelled) = tokio::join!(
                run(&first, &create, b"created"),
                run(&second, &cancel, b"undone-or-tombstone"),
            );
            (created, cancelled)
        })
    });
    for (id, race) in ids.iter().zip(races) {
        let outcome = race.await.expect("join");
        let allowed = matches!(
            outcome,
            (Entry::First, Entry::First) | (Entry::AlreadyCompensated, Entry::NothingToUndo)
        );
        assert!(allowed, "{id}: {outcome:?}");
    }
}

#[test]
fn the_rule_without_io_answers_every_combination_of_records() {
    let record = |op: &str, answer: &[u8]| (op.to_string(), Some(answer.to_vec()));
    assert_eq!(entry_of(&CREATE, &[]), Entry::First);
    assert_eq!(entry_of(&CANCEL, &[]), Entry::NothingToUndo);
    assert_eq!(
        entry_of(&CREATE, &[record("create", b"first")]),
        Entry::Repeat(b"first".to_vec())
    );
    assert_eq!(
        entry_of(&CANCEL, &[record("create", b"made")]),
        Entry::First
    );
    assert_eq!(
        entry_of(&CREATE, &[record("cancel", b"tombstone")]),
        Entry::AlreadyCompensated
    );
    assert_eq!(
        entry_of(
            &CANCEL,
            &[record("create", b"made"), record("cancel", b"undone")]
        ),
        Entry::Repeat(b"undone".to_vec())
    );
    let other_saga_op = [record("confirm", b"x")];
    assert_eq!(entry_of(&CREATE, &other_saga_op), Entry::First);
}
