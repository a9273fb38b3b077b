//! Binding, announcing and serving gRPC routes with the standard health and server
//! reflection services (so that grpcurl and load balancers work out of the box).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Prints the `listening on IP:PORT` line that scripts and tests wait for.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
}

/// How long a stopping service waits for in-flight RPCs and open connections by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);

/// How a service is served besides its routes.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The gRPC service health reports on by name (e.g. `saga.v1.Orchestrator`), beside
    /// the server as a whole (`""`).
    pub service: &'static str,
    /// The database the service cannot work without: while it does not answer, health
    /// says NOT_SERVING.
    pub database: Option<crate::db::Db>,
    /// The encoded `FileDescriptorSet` of the routes' services, for reflection.
    pub descriptors: &'static [u8],
    /// How long in-flight RPCs may take to finish once stopping.
    pub drain: Duration,
    /// Streams a connection may have open at once (`None`: no limit).
    pub max_streams: Option<u32>,
    /// TLS (`None`: plain connections).
    pub tls: Option<tonic::transport::ServerTlsConfig>,
}

/// Serves `routes` plus `grpc.health.v1` and server reflection (`grpc.reflection.v1`
/// and `v1alpha`, over the `serving` descriptors) on `listener`, with the `serving`
/// limits and TLS, until `shutdown` is cancelled. Health turns NOT_SERVING
/// first, then in-flight RPCs get up to `drain` to finish; a client that keeps its
/// connection open (paused, or cut off) cannot hold the process past that.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    serving: Serving,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let Serving {
        service,
        database,
        descriptors,
        drain,
        max_streams,
        tls,
    } = serving;
    let (reporter, health) = tonic_health::server::health_reporter();
    let health_of = Health {
        reporter,
        names: ["", service],
    };
    health_of.set(ServingStatus::Serving).await;
    let stopping = shutdown.clone();
    let stop = async move {
        match database {
            Some(db) => health_of.follow(&db, &stopping).await,
            None => stopping.cancelled().await,
        }
        health_of.set(ServingStatus::NotServing).await;
    };
    let mut builder = tonic::transport::Server::builder().max_concurrent_streams(max_streams);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        .layer(crate::trace_context::ServerSpans)
        .add_routes(with_reflection(routes.add_service(health), descriptors))
        .serve_with_incoming_shutdown(incoming(listener), stop);
    let drain_over = async move {
        shutdown.cancelled().await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        served = server => served,
        () = drain_over => {
            tracing::warn!(?drain, "drain time over; closing the connections still open");
            Ok(())
        }
    }
}

/// How often health asks the database whether it answers.
const HEALTH_PROBE: Duration = Duration::from_secs(1);
/// Unanswered asks in a row before health says NOT_SERVING: a busy database that is slow
/// to answer once must not have a load balancer drain the replica.
const HEALTH_MISSES: u32 = 3;

/// The health of the server as a whole and of its service, by name.
struct Health {
    reporter: tonic_health::server::HealthReporter,
    names: [&'static str; 2],
}

impl Health {
    async fn set(&self, status: ServingStatus) {
        for name in self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Says SERVING while `db` answers and NOT_SERVING once it has not answered
    /// [`HEALTH_MISSES`] times in a row, until `stop`.
    async fn follow(&self, db: &crate::db::Db, stop: &CancellationToken) {
        let mut serving = true;
        let mut misses = 0;
        loop {
            let answers = tokio::select! {
                answers = async {
                    tokio::time::sleep(HEALTH_PROBE).await;
                    db.ping(HEALTH_PROBE).await
                } => answers,
                () = stop.cancelled() => return,
            };
            misses = if answers { 0 } else { misses + 1 };
            let healthy = misses < HEALTH_MISSES;
            if healthy != serving {
                serving = healthy;
                let status = match healthy {
                    true => ServingStatus::Serving,
                    false => ServingStatus::NotServing,
                };
                tracing::warn!(database_answers = answers, "health: {status:?}");
                self.set(status).await;
            }
        }
    }
}

/// `routes` plus both versions of server reflection over `descriptors` and health's
/// own; without them (descriptors that do not decode) when the set is bad.
fn with_reflection(routes: Routes, descriptors: &'static [u8]) -> Routes {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(descriptors)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    match (builder().build_v1(), builder().build_v1alpha()) {
        (Ok(v1), Ok(v1alpha)) => routes.add_service(v1).add_service(v1alpha),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "server reflection is off: the descriptors do not decode");
            routes
        }
    }
}

/// Accepted connections with Nagle's algorithm off: small gRPC answers go out at once
/// instead of waiting for the peer's delayed ACK (up to 40 ms on Linux).
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

#[cfg(test)]
mod tests;
