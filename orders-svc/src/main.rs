//! The `orders-svc` binary: parse flags, serve until SIGTERM or SIGINT.

use clap::Parser;
use orders_svc::{App, Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let telemetry = service_kit::telemetry::init(&config.telemetry, "orders-svc")?;
    let shutdown = service_kit::shutdown::on_signal()?;
    if config.http_listen.is_some() {
        // Before anything is counted: what is counted without a recorder is lost.
        service_kit::http::metrics();
    }
    let app = App::build(config).await?;
    // Before the gRPC line, which tells whoever waits that everything is up.
    if let Some(addr) = app.http_addr() {
        service_kit::http::announce(addr);
    }
    service_kit::serve::announce(app.local_addr());
    let served = app.run_until(shutdown).await;
    telemetry.flush().await;
    served?;
    Ok(())
}
