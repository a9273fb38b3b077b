//! Writes held back for the commit: they commit with it or not at all, on every backend.

use super::super::{Db, Tx, Written, placeholder_rows};
use crate::on_backend;
use crate::testing::{databases, orders_migrations};

/// Records saga `id`'s barrier entry through `write_later!`.
async fn record(tx: &mut Tx, id: &str) -> Result<Written, sqlx::Error> {
    let sql = format!(
        "INSERT INTO saga_barrier (saga_id, op, response, created_at_ms) VALUES {}",
        placeholder_rows(tx, 4, 1, 1)
    );
    crate::write_later!(tx, sql.as_str(), values => {
        values.bind(id)?;
        values.bind("create")?;
        values.bind(id.as_bytes())?;
        values.bind(1_i64)?;
    })
}

/// How many barrier entries `tx` sees.
async fn entries(tx: &mut Tx) -> i64 {
    on_backend!(tx, conn => sqlx::query_scalar("SELECT COUNT(*) FROM saga_barrier")
        .fetch_one(conn)
        .await)
    .expect("count")
}

async fn committed_entries(db: &Db) -> i64 {
    let mut tx = db.begin_read().await.expect("begin");
    let seen = entries(&mut tx).await;
    tx.rollback().await.expect("end the read");
    seen
}

#[tokio::test]
async fn held_writes_commit_with_the_commit_and_a_flush_shows_them_to_later_statements() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let mut tx = db.begin_write().await.expect("begin");
        tx.hold_writes();
        let held = record(&mut tx, "s1").await.expect("s1");
        assert_eq!(held, Written::WithCommit);
        assert_eq!(entries(&mut tx).await, 0, "held back");
        tx.flush().await.expect("flush");
        assert_eq!(entries(&mut tx).await, 1, "flushed before the read");
        tx.hold_writes();
        record(&mut tx, "s2").await.expect("s2");
        record(&mut tx, "s3").await.expect("s3");
        tx.commit().await.expect("commit");
        assert_eq!(committed_entries(&db).await, 3);
    }
}

#[tokio::test]
async fn a_failed_check_of_a_held_write_commits_nothing_and_the_next_transaction_commits() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let mut tx = db.begin_write().await.expect("begin");
        tx.hold_writes();
        record(&mut tx, "s1").await.expect("s1");
        let written = record(&mut tx, "s2").await.expect("s2");
        // The write changed one row, not two.
        let failed = match tx.require_changes(written, 2) {
            Err(_) => tx.rollback().await.is_ok(),
            Ok(()) => tx.commit().await.is_err(),
        };
        assert!(failed, "the check failed the transaction");
        assert_eq!(committed_entries(&db).await, 0);
        let mut tx = db.begin_write().await.expect("begin again");
        tx.hold_writes();
        let written = record(&mut tx, "s1").await.expect("s1 again");
        tx.require_changes(written, 1).expect("one row");
        tx.commit().await.expect("commit");
        assert_eq!(committed_entries(&db).await, 1);
    }
}

#[tokio::test]
async fn a_transaction_dropped_unfinished_leaves_nothing_and_the_pool_goes_on() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        let mut tx = db.begin_write().await.expect("begin");
        record(&mut tx, "s1").await.expect("s1");
        drop(tx);
        let mut tx = db.begin_write().await.expect("begin again");
        record(&mut tx, "s2").await.expect("s2");
        tx.commit().await.expect("commit");
        assert_eq!(committed_entries(&db).await, 1);
    }
}

#[tokio::test]
async fn transactions_given_up_while_they_begin_leave_no_connection_inside_one() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    for db in dbs {
        // Given up at every point of their start, some after their BEGIN ran.
        for micros in (0..400).step_by(5) {
            let wait = std::time::Duration::from_micros(micros);
            let _ = tokio::time::timeout(wait, db.begin_write()).await;
            let _ = tokio::time::timeout(wait, db.begin_read()).await;
        }
        // Every connection of the pool (eight at most) begins again.
        let mut reads = Vec::new();
        for _ in 0..8 {
            reads.push(db.begin_read().await.expect("begin a read"));
        }
        for tx in reads {
            tx.rollback().await.expect("end the read");
        }
        let mut tx = db.begin_write().await.expect("begin a write");
        record(&mut tx, "s1").await.expect("s1");
        tx.commit().await.expect("commit");
        assert_eq!(committed_entries(&db).await, 1);
    }
}

#[tokio::test]
async fn sqlite_writers_queue_for_one_connection_and_each_commits() {
    let (_dir, dbs) = databases(&orders_migrations()).await;
    let Some(Db::Sqlite(pools)) = dbs.iter().find(|db| matches!(db, Db::Sqlite(_))) else {
        panic!("a SQLite database among the test databases");
    };
    let db = Db::Sqlite(pools.clone());
    let mut first = db.begin_write().await.expect("begin the first");
    record(&mut first, "s-1").await.expect("write the first");
    // The second writer waits for the connection the first holds, not for SQLite's lock.
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await?;
            record(&mut tx, "s-2").await?;
            tx.commit().await
        }
    });
    tokio::task::yield_now().await;
    first.commit().await.expect("commit the first");
    second
        .await
        .expect("the second writer ran")
        .expect("the second writer committed after the first");
    assert_eq!(committed_entries(&db).await, 2);
    assert_eq!(pools.writes.size(), 1, "writes went through one connection");
}
