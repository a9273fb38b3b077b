//! The `orchestrator` binary.

use clap::Parser;
use orchestrator::config::Config;
use orchestrator::startup::App;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let telemetry = service_kit::telemetry::init(&config.telemetry, "orchestrator")?;
    if config.http_listen.is_some() {
        // Before anything is counted: what is counted without a recorder is lost.
        service_kit::http::metrics();
    }
    let shutdown = service_kit::shutdown::on_signal()?;
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
