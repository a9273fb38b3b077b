//! The database proxy against the real PostgreSQL server `SAGA_TEST_POSTGRES_URL` names
//! (skipped without one), with sqlx as the client: clean it is not there; an in-doubt
//! commit (or write outside a transaction) fails for its writer yet is committed; a cut
//! in a transaction leaves nothing behind; delayed replies arrive late.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::time::Instant;

use super::*;
use crate::backend::{Backend, POSTGRES_ENV};
use crate::poll::{Check, eventually};

/// A fresh database, a proxy in front of its server, and a URL of each way in.
struct Fixture {
    proxy: PgProxy,
    direct: String,
    through: String,
}

async fn fixture(in_doubt_probability: f64, cut_probability: f64) -> Result<Option<Fixture>> {
    let Some(Backend::Postgres { server_url }) = Backend::postgres_from_env() else {
        eprintln!("SKIPPED: {POSTGRES_ENV} is not set");
        return Ok(None);
    };
    let direct = service_kit::db::fresh_postgres_database(&server_url).await?;
    let settings = PgProxySettings {
        seed: 7,
        in_doubt_probability,
        cut_probability,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy = PgProxy::start(listener, server_addr(&direct).await?, settings)?;
    let through = url_through(&direct, proxy.addr())?;
    let mut connection = PgConnection::connect(&direct).await?;
    sqlx::raw_sql("CREATE TABLE t (x INTEGER)")
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    Ok(Some(Fixture {
        proxy,
        direct,
        through,
    }))
}

/// The rows of `t` holding `x`, read straight from the server.
async fn rows_with(direct: &str, x: i32) -> Result<i64> {
    let mut connection = PgConnection::connect(direct).await?;
    let n = sqlx::query_scalar("SELECT count(*) FROM t WHERE x = $1")
        .bind(x)
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    Ok(n)
}

async fn insert_in_a_transaction(connection: &mut PgConnection, x: i32) -> Result<(), sqlx::Error> {
    let mut transaction = connection.begin().await?;
    sqlx::query("INSERT INTO t VALUES ($1)")
        .bind(x)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await
}

#[tokio::test]
async fn through_a_clean_proxy_transactions_commit_and_roll_back_as_usual() -> Result<()> {
    let Some(f) = fixture(1.0, 1.0).await? else {
        return Ok(());
    };
    let mut connection = PgConnection::connect(&f.through).await?;
    insert_in_a_transaction(&mut connection, 1).await?;
    sqlx::raw_sql("BEGIN; INSERT INTO t VALUES (2); COMMIT")
        .execute(&mut connection)
        .await?;
    let mut transaction = connection.begin().await?;
    sqlx::query("INSERT INTO t VALUES (3)")
        .execute(&mut *transaction)
        .await?;
    transaction.rollback().await?;
    connection.close().await?;
    let found = [
        rows_with(&f.direct, 1).await?,
        rows_with(&f.direct, 2).await?,
        rows_with(&f.direct, 3).await?,
    ];
    assert_eq!(found, [1, 1, 0]);
    assert_eq!(
        f.proxy.counts(),
        PgProxyCounts {
            connections: 1,
            ..PgProxyCounts::default()
        }
    );
    Ok(())
}

#[tokio::test]
async fn an_in_doubt_commit_fails_for_its_writer_yet_is_committed() -> Result<()> {
    let Some(f) = fixture(1.0, 0.0).await? else {
        return Ok(());
    };
    f.proxy.set_fault(PgFault::InDoubtCommits);
    let mut connection = PgConnection::connect(&f.through).await?;
    let committed = insert_in_a_transaction(&mut connection, 7).await;
    assert!(committed.is_err(), "the writer saw {committed:?}");
    assert_eq!(rows_with(&f.direct, 7).await?, 1, "yet the row is there");

    // A COMMIT sent as a prepared statement (Parse, Bind, Execute, Sync) is seen too.
    let mut connection = PgConnection::connect(&f.through).await?;
    for statement in ["BEGIN", "INSERT INTO t VALUES (8)"] {
        sqlx::query(statement).execute(&mut connection).await?;
    }
    let committed = sqlx::query("COMMIT").execute(&mut connection).await;
    assert!(committed.is_err(), "the writer saw {committed:?}");
    assert_eq!(rows_with(&f.direct, 8).await?, 1, "yet the row is there");
    let counts = f.proxy.counts();
    assert_eq!(
        (counts.connections, counts.in_doubt_commits),
        (2, 2),
        "{counts:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_in_doubt_write_outside_a_transaction_fails_for_its_writer_yet_is_committed()
-> Result<()> {
    let Some(f) = fixture(1.0, 0.0).await? else {
        return Ok(());
    };
    f.proxy.set_fault(PgFault::InDoubtCommits);
    let mut connection = PgConnection::connect(&f.through).await?;
    let read = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut connection)
        .await;
    assert_eq!(read.ok(), Some(1), "a read is no commit");
    let written = sqlx::query("WITH w AS (INSERT INTO t VALUES ($1) RETURNING x) SELECT x FROM w")
        .bind(9)
        .execute(&mut connection)
        .await;
    assert!(written.is_err(), "the writer saw {written:?}");
    assert_eq!(rows_with(&f.direct, 9).await?, 1, "yet the row is there");
    let counts = f.proxy.counts();
    assert_eq!(counts.in_doubt_commits, 1, "{counts:?}");
    Ok(())
}

#[tokio::test]
async fn a_cut_in_the_middle_of_a_transaction_leaves_nothing_behind() -> Result<()> {
    let Some(f) = fixture(0.0, 1.0).await? else {
        return Ok(());
    };
    f.proxy.set_fault(PgFault::CutsMidTransaction);
    let mut connection = PgConnection::connect(&f.through).await?;
    let committed = insert_in_a_transaction(&mut connection, 9).await;
    assert!(committed.is_err(), "the writer saw {committed:?}");
    // Once the server has ended the cut session, its transaction is rolled back.
    eventually(Duration::from_secs(10), "the cut session to end", || {
        let direct = f.direct.clone();
        async move {
            let mut watcher = PgConnection::connect(&direct).await?;
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut watcher)
            .await?;
            watcher.close().await?;
            Ok(match others {
                0 => Check::Done(()),
                n => Check::NotYet(format!("{n} other sessions")),
            })
        }
    })
    .await?;
    assert_eq!(rows_with(&f.direct, 9).await?, 0);
    assert_eq!(f.proxy.counts().mid_transaction_cuts, 1);
    Ok(())
}

#[tokio::test]
async fn delayed_replies_arrive_late_and_clean_ones_at_once() -> Result<()> {
    let Some(f) = fixture(0.0, 0.0).await? else {
        return Ok(());
    };
    let mut connection = PgConnection::connect(&f.through).await?;
    let delay = Duration::from_millis(400);
    f.proxy.set_fault(PgFault::DelayedReplies(delay));
    let began = Instant::now();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await?;
    assert_eq!((one, began.elapsed() >= delay), (1, true));
    f.proxy.set_fault(PgFault::Clean);
    let began = Instant::now();
    sqlx::query("SELECT 2").execute(&mut connection).await?;
    assert!(began.elapsed() < delay, "{:?}", began.elapsed());
    assert!(f.proxy.counts().delayed_chunks >= 1);
    Ok(())
}

#[test]
fn a_url_through_the_proxy_keeps_everything_but_the_host_and_port() -> Result<()> {
    let proxy: SocketAddr = "127.0.0.1:6000".parse()?;
    let cases = [
        (
            "postgres://u:pw@127.0.0.1:5432/db?sslmode=disable",
            "postgres://u:pw@127.0.0.1:6000/db?sslmode=disable",
        ),
        ("postgres://localhost/db", "postgres://127.0.0.1:6000/db"),
        ("postgresql://u@h:1", "postgresql://u@127.0.0.1:6000"),
    ];
    for (url, expected) in cases {
        assert_eq!(url_through(url, proxy)?, expected, "{url}");
    }
    assert!(url_through("postgres://u@h/db?host=/tmp", proxy).is_err());
    Ok(())
}

#[tokio::test]
async fn a_server_that_resets_its_side_closes_the_clients_too() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A "server" that reads the startup message, then resets the connection.
    let server = TcpListener::bind("127.0.0.1:0").await?;
    let upstream = server.local_addr()?;
    tokio::spawn(async move {
        if let Ok((mut stream, _)) = server.accept().await {
            let mut startup = [0u8; 8];
            let _ = stream.read_exact(&mut startup).await;
            let _ = stream.set_zero_linger();
        }
    });
    let settings = PgProxySettings {
        seed: 1,
        in_doubt_probability: 0.0,
        cut_probability: 0.0,
    };
    let proxy = PgProxy::start(TcpListener::bind("127.0.0.1:0").await?, upstream, settings)?;
    let mut client = tokio::net::TcpStream::connect(proxy.addr()).await?;
    let startup = [0u8, 0, 0, 8, 0, 3, 0, 0];
    client.write_all(&startup).await?;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    Ok(())
}

#[test]
fn a_window_ends_on_the_proxys_own_clock() {
    let at = |until| Window {
        fault: PgFault::InDoubtCommits,
        until,
    };
    let now = Instant::now();
    assert_eq!(
        [
            at(None).now(),
            at(Some(now + Duration::from_secs(60))).now(),
            at(Some(now)).now(),
        ],
        [
            PgFault::InDoubtCommits,
            PgFault::InDoubtCommits,
            PgFault::Clean
        ]
    );
}
