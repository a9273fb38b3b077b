//! The `orchestrator` binary.

use clap::Parser;
use orchestrator::config::Config;
use orchestrator::startup::App;

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
