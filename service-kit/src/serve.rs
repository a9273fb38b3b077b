//! Binding, announcing and serving gRPC routes with the standard health service.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Prints the `listening on IP:PORT` line that scripts and tests wait for.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
}

/// Serves `routes` plus `grpc.health.v1` on `listener` until `shutdown` is cancelled.
/// Health turns NOT_SERVING first, then in-flight RPCs finish before this returns.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let stop = async move {
        shutdown.cancelled().await;
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };
    tonic::transport::Server::builder()
        .add_routes(routes.add_service(health))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop)
        .await
}
