//! The `saga` command line, run as a real process against a running stack: `--output
//! json` answers proto3 JSON (one object, or one per record for `watch`), `show` prints
//! the calls as a timeline, and the exit code tells a script what happened: 0 done, 1
//! refused, 2 usage, 3 unreachable.

use anyhow::{Context, Result, ensure};
use saga_tests::requests::small_order;
use saga_tests::{Cluster, ClusterOptions};
use serde_json::Value;

mod support;

use support::Operator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_cli_answers_in_json_with_exit_codes_a_script_can_use() -> Result<()> {
    let cluster = Cluster::start(ClusterOptions::default()).await?;
    let url = cluster.orchestrator_url().context("no orchestrator")?;
    let placed = cluster.orchestrator().place_order(small_order(1)).await?;
    let saga_id = placed.into_inner().saga.context("no saga")?.saga_id;
    let cli = Operator::new(&url);

    let shown = cli.json(&["get", &saga_id]).await?;
    ensure!(shown["saga_id"] == saga_id.as_str(), "{shown}");
    ensure!(shown["status"] == "SAGA_STATUS_COMPLETED", "{shown}");
    let calls = &shown["steps"][0]["calls"];
    ensure!(calls[0]["outcome"] == "succeeded", "{shown}");

    let timeline = cli.text(&["show", &saga_id]).await?;
    for step in ["create_order", "create_invoice", "confirm_order"] {
        ensure!(timeline.contains(step), "{timeline}");
    }

    let watch = cli.run(&["watch", &saga_id], true).await?;
    ensure!(watch.status.code() == Some(0), "{watch:?}");
    let seqs: Vec<u64> = String::from_utf8(watch.stdout)?
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).map(|r| r["seq"].as_u64().unwrap_or(0)))
        .collect::<Result<_, _>>()?;
    ensure!(
        !seqs.is_empty() && seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{seqs:?}"
    );

    let listed = cli.json(&["list", "--key", "small-1"]).await?;
    ensure!(listed["counts"]["COMPLETED"] == "1", "{listed}");

    cli.refused(&["get", "no-such-saga"], "no-such-saga")
        .await?;
    let unreachable = Operator::new("http://127.0.0.1:1");
    let answer = unreachable.run(&["get", &saga_id], false).await?;
    ensure!(answer.status.code() == Some(3), "{answer:?}");
    for usage in [
        cli.run(&["no-such-command"], false).await?,
        Operator::new("not a url")
            .run(&["get", &saga_id], false)
            .await?,
        cli.run(&["get", &saga_id, "--token-file", "/no/such/file"], false)
            .await?,
    ] {
        ensure!(usage.status.code() == Some(2), "{usage:?}");
    }
    Ok(())
}
