//! Health follows the database: NOT_SERVING while it does not answer, SERVING again once
//! it does, for the server and for its service by name.

use std::time::Duration;

use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus as Status};

use super::*;
use crate::db::{Db, Migrations};

const SERVICE: &str = "test.v1.Service";
const NO_SCHEMA: &Migrations = &Migrations {
    sqlite: Migrator::DEFAULT,
    postgres: Migrator::DEFAULT,
};

/// A TCP relay to the database that the test can cut (every connection with it) and
/// open again on the same port.
struct Relay {
    port: u16,
    upstream: String,
    tasks: JoinSet<()>,
}

impl Relay {
    async fn open(port: u16, upstream: String) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the relay");
        let mut tasks = JoinSet::new();
        let to = upstream.clone();
        tasks.spawn(async move {
            let mut links = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let to = to.clone();
                links.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            port,
            upstream,
            tasks,
        }
    }

    /// Cuts every connection and stops listening.
    async fn cut(mut self) -> (u16, String) {
        self.tasks.shutdown().await;
        (self.port, self.upstream)
    }
}

async fn status(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Option<Status> {
    let request = HealthCheckRequest {
        service: service.to_string(),
    };
    let answer = client.check(request).await.ok()?;
    Status::try_from(answer.into_inner().status).ok()
}

async fn until(client: &mut HealthClient<tonic::transport::Channel>, wanted: Status) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (whole, service) = (status(client, "").await, status(client, SERVICE).await);
        if whole == Some(wanted) && service == Some(wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "health stayed {whole:?}/{service:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_while_the_database_does_not_answer() {
    let Ok(server) = std::env::var("SAGA_TEST_POSTGRES_URL") else {
        eprintln!("SAGA_TEST_POSTGRES_URL is not set: SKIPPED");
        return;
    };
    let url = crate::db::fresh_postgres_database(&server)
        .await
        .expect("a database");
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').nth(1))
        .and_then(|h| h.split('/').next())
        .expect("host:port")
        .to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let relay = Relay::open(port, authority.clone()).await;
    let relayed = url.replacen(&authority, &format!("127.0.0.1:{port}"), 1);
    let db = Db::open_patiently(&relayed, NO_SCHEMA, Duration::from_secs(20))
        .await
        .expect("open");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let serving = Serving {
        service: SERVICE,
        database: Some(db),
        descriptors: &[],
        drain: Duration::from_secs(1),
        max_streams: None,
        tls: None,
    };
    tokio::spawn(serve(
        listener,
        Routes::default(),
        serving,
        shutdown.clone(),
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect_lazy();
    let mut client = HealthClient::new(channel);
    until(&mut client, Status::Serving).await;

    let (port, upstream) = relay.cut().await;
    until(&mut client, Status::NotServing).await;
    let _relay = Relay::open(port, upstream).await;
    until(&mut client, Status::Serving).await;
    shutdown.cancel();
}
