//! The `inventory-svc` binary: parse flags, serve until SIGTERM or SIGINT.

use clap::Parser;
use inventory_svc::{App, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::telemetry::init();
    let shutdown = service_kit::shutdown::on_signal()?;
    let app = App::build(config).await?;
    service_kit::serve::announce(app.local_addr());
    app.run_until(shutdown).await?;
    Ok(())
}
