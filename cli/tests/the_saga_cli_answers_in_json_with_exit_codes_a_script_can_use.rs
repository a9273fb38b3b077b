//! The `saga` command line, run as a real process against a running stack: `--output
//! json` answers proto3 JSON (one object, or one per record for `watch`), `show` prints
//! the calls as a timeline, and the exit code tells a script what happened: 0 done, 1
//! refused, 2 usage, 3 unreachable.

use std::process::Output;

use anyhow::{Context, Result, ensure};
use saga_tests::requests::small_order;
use saga_tests::{Cluster, ClusterOptions};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_cli_answers_in_json_with_exit_codes_a_script_can_use() -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default()).await?;
    let url = cluster.orchestrator_url().context("no orchestrator")?;
    let placed = cluster.orchestrator().place_order(small_order(1)).await?;
    let saga_id = placed.into_inner().saga.context("no saga")?.saga_id;

    let get = saga(&["--output", "json", "get", &saga_id, "--url", &url]).await?;
    ensure!(get.status.code() == Some(0), "{get:?}");
    let shown: Value = serde_json::from_slice(&get.stdout)?;
    ensure!(shown["saga_id"] == saga_id.as_str(), "{shown}");
    ensure!(shown["status"] == "SAGA_STATUS_COMPLETED", "{shown}");
    let calls = &shown["steps"][0]["calls"];
    ensure!(calls[0]["outcome"] == "succeeded", "{shown}");

    let show = saga(&["show", &saga_id, "--url", &url]).await?;
    let timeline = String::from_utf8(show.stdout)?;
    ensure!(show.status.code() == Some(0), "{timeline}");
    for step in ["create_order", "create_invoice", "confirm_order"] {
        ensure!(timeline.contains(step), "{timeline}");
    }

    let watch = saga(&["--output", "json", "watch", &saga_id, "--url", &url]).await?;
    ensure!(watch.status.code() == Some(0), "{watch:?}");
    let seqs: Vec<u64> = String::from_utf8(watch.stdout)?
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).map(|r| r["seq"].as_u64().unwrap_or(0)))
        .collect::<Result<_, _>>()?;
    ensure!(
        !seqs.is_empty() && seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{seqs:?}"
    );

    let list = saga(&[
        "--output", "json", "list", "--key", "small-1", "--url", &url,
    ])
    .await?;
    let listed: Value = serde_json::from_slice(&list.stdout)?;
    ensure!(listed["counts"]["COMPLETED"] == "1", "{listed}");

    let refused = saga(&["get", "no-such-saga", "--url", &url]).await?;
    ensure!(refused.status.code() == Some(1), "{refused:?}");
    let unreachable = saga(&["get", &saga_id, "--url", "http://127.0.0.1:1"]).await?;
    ensure!(unreachable.status.code() == Some(3), "{unreachable:?}");
    let usage = saga(&["no-such-command"]).await?;
    ensure!(usage.status.code() == Some(2), "{usage:?}");
    Ok(())
}

/// Runs `saga ARGS…` and answers what it printed and how it exited.
async fn saga(args: &[&str]) -> Result<Output> {
    let binary = env!("CARGO_BIN_EXE_saga");
    tokio::process::Command::new(binary)
        .args(args)
        .env_remove("ORCHESTRATOR_URL")
        .output()
        .await
        .with_context(|| format!("cannot run {binary}"))
}
