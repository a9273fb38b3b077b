//! The HTTP listener beside a service's gRPC one (`--http-listen`): `GET /metrics`, the
//! process's metrics in Prometheus' text format, recorded through the `metrics` facade,
//! beside whatever else the service serves over HTTP (the orchestrator's web page), in
//! plain HTTP or over TLS from the gRPC listener's flags.

mod listener;

use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::tls::HttpTls;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the recorder's upkeep runs.
const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's recorder, once installed.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Whether this process records metrics (a recorder was installed): the hot paths skip
/// building the labels of metrics nobody would read.
pub fn recording() -> bool {
    HANDLE.get().is_some_and(Option::is_some)
}

/// The process's recorder, installed by the first caller (histograms in seconds and of
/// batch sizes with the buckets of [`crate::metrics`]); `None` when another recorder was
/// installed first (the metrics then go there). Install it before describing metrics.
pub fn metrics() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| match install() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "cannot install the metrics recorder");
                None
            }
        })
        .clone()
}

fn install() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    use crate::metrics::{BATCH_BUCKETS, COMMIT_BATCH, SECONDS_BUCKETS};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(COMMIT_BATCH.into()), &BATCH_BUCKETS)?
        .install_recorder()?;
    crate::metrics::describe();
    Ok(handle)
}

/// Prints the `http listening on IP:PORT` line that scripts and tests wait for.
pub fn announce(addr: SocketAddr) {
    println!("http listening on {addr}");
}

/// Serves `GET /metrics` and `routes` (a service's own pages; `Router::new()` for none)
/// on `listener`, over TLS when `tls` is given, until `shutdown`. `routes` must not serve
/// `/metrics` itself.
pub async fn serve(
    listener: TcpListener,
    routes: Router,
    tls: Option<HttpTls>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let handle = metrics();
    if let Some(handle) = &handle {
        tokio::spawn(upkeep(handle.clone(), shutdown.child_token()));
    }
    let render = move || {
        let text = handle.as_ref().map(PrometheusHandle::render);
        async move {
            (
                [(header::CONTENT_TYPE, TEXT_FORMAT)],
                text.unwrap_or_default(),
            )
        }
    };
    let app = Router::new().route("/metrics", get(render)).merge(routes);
    // Each request knows its peer's address (`ConnectInfo`): the web page counts a
    // browser's watches by it.
    // (`tap_io` also gives any listener axum's `ConnectInfo` for its address type.)
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let stopped = shutdown.cancelled_owned();
    match tls {
        Some(config) => {
            let listener = listener::TlsListener::new(listener, config)?
                .tap_io(|tls| no_delay(tls.get_ref().0));
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }
        None => {
            let listener = listener.tap_io(|tcp| no_delay(tcp));
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }
    }
}

/// Folds the histograms' samples into their buckets every [`UPKEEP`] until `shutdown`.
/// The recorder keeps every sample until then: without it they pile up between scrapes,
/// and without bound when nobody scrapes.
async fn upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(UPKEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while shutdown.run_until_cancelled(tick.tick()).await.is_some() {
        handle.run_upkeep();
    }
}

/// Small answers go out at once rather than waiting for more to send.
fn no_delay(tcp: &TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}
