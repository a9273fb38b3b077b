//! How the CLI answers: text for people, or proto3 JSON for scripts (`--output json`),
//! and exit codes a script can act on.

use std::io::Write;
use std::process::ExitCode;

use tonic::Code;

/// `--output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Text,
    /// One proto3 JSON object per answer (per record for `watch`).
    Json,
}

/// The exit codes: done, refused (the orchestrator answered no), usage (clap's own, and
/// [`Usage`]), unreachable (no answer, or no room for the request now: try again).
pub const REFUSED: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNREACHABLE: u8 = 3;

/// A flag the command cannot use (a URL that is not one, a token file it cannot read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Prints `message` as the `output` asks: `text` for people, or its JSON.
pub fn print<M: prost::Message>(
    output: Output,
    message: &M,
    full_name: &str,
    text: impl FnOnce(&M) -> String,
) -> anyhow::Result<()> {
    let line = match output {
        Output::Text => text(message),
        Output::Json => saga_contracts::json::to_json_string(message, full_name)?,
    };
    say(&line);
    Ok(())
}

/// Writes `line` to stdout; a reader that went away (`saga watch … | head`) ends the
/// command quietly, as done.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("saga: cannot write the answer: {error}");
    }
}

/// The exit code of a failed command: usage for a flag it cannot use; unreachable when no
/// answer came (a transport failure, UNAVAILABLE, DEADLINE_EXCEEDED) or the orchestrator
/// had no room for it (RESOURCE_EXHAUSTED): worth trying again; refused otherwise.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(|cause| cause.is::<Usage>()) {
        return ExitCode::from(USAGE);
    }
    let unreachable = error.chain().any(|cause| {
        cause.is::<tonic::transport::Error>()
            || cause.downcast_ref::<tonic::Status>().is_some_and(|status| {
                std::error::Error::source(status).is_some()
                    || matches!(
                        status.code(),
                        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted
                    )
            })
    });
    ExitCode::from(if unreachable { UNREACHABLE } else { REFUSED })
}
