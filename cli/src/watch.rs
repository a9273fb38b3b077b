//! `saga watch ID`: a saga's log as it grows, a line per record, until the saga ends. A
//! stream that breaks (the orchestrator restarted, or another replica took the saga
//! over) is watched again from the last record shown, so nothing is missed or repeated.

use std::time::Duration;

use saga_contracts::saga::v1 as pb;
use tonic::Code;

use crate::connection::OrchestratorArgs;
use crate::output::{self, Output};
use crate::render;

/// Pause before watching again after the stream broke.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// Watches again at most this many times in a row without a record in between.
const RECONNECTS: u32 = 60;

/// Flags of `saga watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
    saga_id: String,
    /// Show only the records after this seq.
    #[arg(long, default_value_t = 0)]
    from: u32,
}

pub async fn watch(args: WatchArgs, output: Output) -> anyhow::Result<()> {
    let mut last = args.from;
    let mut failures = 0;
    loop {
        match follow(&args, output, &mut last).await {
            Ok(()) => return Ok(()),
            Err(status) if reconnectable(&status) && failures < RECONNECTS => {
                failures = if last > args.from { 1 } else { failures + 1 };
                eprintln!(
                    "(stream broke: {}; watching again after seq {last})",
                    status.message()
                );
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
            Err(status) => return Err(status.into()),
        }
    }
}

/// Prints the records after `last` until the stream ends, moving `last` on.
async fn follow(args: &WatchArgs, output: Output, last: &mut u32) -> Result<(), tonic::Status> {
    let mut client = args
        .orchestrator
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("{e:#}")))?;
    let request = pb::WatchSagaRequest {
        saga_id: args.saga_id.clone(),
        from_seq: *last,
    };
    let mut records = client.watch_saga(request).await?.into_inner();
    while let Some(entry) = records.message().await? {
        *last = entry.seq;
        output::print(output, &entry, "saga.v1.SagaLogEntry", render::log_entry)
            .map_err(|e| tonic::Status::internal(format!("{e:#}")))?;
    }
    Ok(())
}

/// What watching again may get past: the orchestrator went away, or the watcher fell
/// behind.
fn reconnectable(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
        || matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::ResourceExhausted | Code::Cancelled
        )
}
