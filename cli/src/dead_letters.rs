//! `saga dead-letters`: the order events the orchestrator gave up on, as the broker's
//! dead-letter stream keeps them, with why.

use anyhow::Context;
use service_kit::broker::DEAD_LETTER_STREAM;

/// Flags of `saga dead-letters`.
#[derive(Debug, clap::Args)]
pub struct DeadLettersArgs {
    /// The NATS server the events go through.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The newest letters shown at most.
    #[arg(long, default_value_t = 20)]
    limit: u64,
}

pub async fn list(args: DeadLettersArgs) -> anyhow::Result<()> {
    let (context, _) = service_kit::broker::connect(&args.nats_url).await?;
    let mut stream = context
        .get_stream(DEAD_LETTER_STREAM)
        .await
        .with_context(|| format!("no stream {DEAD_LETTER_STREAM}"))?;
    let state = stream.info().await?.state.clone();
    println!("{} dead letters", state.messages);
    if state.messages == 0 {
        return Ok(());
    }
    let first = state
        .first_sequence
        .max(state.last_sequence.saturating_sub(args.limit - 1));
    for sequence in first..=state.last_sequence {
        let Ok(letter) = stream.get_raw_message(sequence).await else {
            continue;
        };
        let header = |name: &str| {
            letter
                .headers
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        println!(
            "#{sequence}  {}  from {}  {} bytes  {}",
            letter.subject,
            header("Saga-Original-Subject"),
            letter.payload.len(),
            header("Saga-Dead-Reason")
        );
    }
    Ok(())
}
