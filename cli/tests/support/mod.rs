//! The `saga` binary as a test runs it: against one orchestrator, its answer as proto3
//! JSON or text, or its refusal with its exit code.

use anyhow::{Context, Result, ensure};
use serde_json::Value;

/// The operator at a terminal: runs the `saga` binary against one orchestrator.
pub struct Operator {
    url: String,
}

impl Operator {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
        }
    }

    /// Runs `saga ARGS… --url URL`.
    pub async fn run(&self, args: &[&str], json: bool) -> Result<std::process::Output> {
        let binary = env!("CARGO_BIN_EXE_saga");
        let mut command = tokio::process::Command::new(binary);
        if json {
            command.args(["--output", "json"]);
        }
        command
            .args(args)
            .args(["--url", &self.url])
            .env_remove("ORCHESTRATOR_URL")
            .env_remove("SAGA_TOKEN")
            .env("NO_COLOR", "1");
        command
            .output()
            .await
            .with_context(|| format!("cannot run {binary}"))
    }

    /// What `saga --output json ARGS…` answered; it must have exited 0.
    pub async fn json(&self, args: &[&str]) -> Result<Value> {
        let out = self.run(args, true).await?;
        ensure!(out.status.success(), "saga {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).with_context(|| format!("saga {args:?}: {out:?}"))
    }

    /// What `saga ARGS…` printed for people; it must have exited 0.
    pub async fn text(&self, args: &[&str]) -> Result<String> {
        let out = self.run(args, false).await?;
        ensure!(out.status.success(), "saga {args:?}: {out:?}");
        Ok(String::from_utf8(out.stdout)?)
    }

    /// `saga ARGS…` is refused: exit 1, the reason (holding `why`) on stderr.
    pub async fn refused(&self, args: &[&str], why: &str) -> Result<()> {
        let out = self.run(args, false).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.code() == Some(1) && stderr.contains(why),
            "saga {args:?} should be refused with {why:?}: {out:?}"
        );
        Ok(())
    }
}
