//! The operators' web page in a real headless browser (Chromium through chromedriver)
//! over a real stack: the list shows placed sagas; a running saga's page follows it to
//! COMPLETED without a reload; a compensated saga's page draws its timeline with the
//! compensation in its own lane; and, on every backend (on PostgreSQL through a second
//! replica), a FAILED saga is resolved and a parked one retried and skipped by clicking
//! through their pages. With `SAGA_SCREENSHOT_DIR` set, the compensated saga's page is saved there as
//! `cockpit-saga.png` (the README's picture).

mod browser;
mod page;
mod stack;

use anyhow::{Context, Result, bail, ensure};
use saga_contracts::saga::v1::{Saga, SagaStatus, StepOutcome};
use saga_tests::{Backend, ClusterOptions, on_every_backend};
use serde_json::json;

use browser::Browser;
use page::{click, hover_text, text, type_into, wait_for};
use stack::{
    LIMIT_CENTS, Paused, get, place, stack, wait_for_calls, wait_until_ended, wait_until_parked,
};

/// Set this to a folder to save the compensated saga's page as a PNG.
const SCREENSHOT_ENV: &str = "SAGA_SCREENSHOT_DIR";
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_page_shows_watches_and_repairs_sagas() -> Result<()> {
    let Some(browser) = Browser::start().await? else {
        return Ok(());
    };
    let outcome = scenario(&browser).await;
    if outcome.is_err() {
        eprintln!("----- chromedriver's log -----\n{}", browser.driver_log());
    }
    browser.close().await?;
    outcome
}

async fn scenario(browser: &Browser) -> Result<()> {
    watching_and_compensating(browser).await?;
    on_every_backend(|backend| repairing_failed_and_parked_sagas(browser, backend)).await
}

/// (1) the list, (3) a live saga's page and (2) a compensated saga's page. invoices-svc
/// is paused (SIGSTOP) while both sagas are placed, so both stay RUNNING, retrying their
/// invoice, until the test resumes it: then one completes and the other, over the limit,
/// is refused and compensates.
async fn watching_and_compensating(browser: &Browser) -> Result<()> {
    // Retried (not given up on) for as long as the test keeps invoices-svc paused, with
    // waits long enough (0.4 to 0.8 s) for the page to show when the next attempt is due.
    let options = ClusterOptions {
        retry_base_ms: 800,
        retry_max_ms: 800,
        ..ClusterOptions::default()
    }
    .max_attempts(100_000)
    .orchestrator_arg("--step-time-limit-ms=600000");
    let (cluster, web) = stack(options).await?;
    let client = cluster.orchestrator();
    let invoices = cluster.invoices_signaller();
    let paused = Paused::pause(&invoices)?;
    let over = place(&client, "web-over-the-limit", 3 * LIMIT_CENTS, 200).await?;
    let live = place(&client, "web-live", 2_500, 200).await?;
    ensure!(
        live.status() == SagaStatus::Running && over.status() == SagaStatus::Running,
        "both sagas wait for invoices-svc: {live:?} {over:?}"
    );
    // A few timed-out calls first, for the timelines to show retries.
    wait_for_calls(&client, &over.saga_id, "create_invoice", 3).await?;
    let b = &browser.client;

    b.goto(&format!("{web}/#/")).await?;
    for saga in [&live, &over] {
        wait_for(b, &row(&saga.saga_id, "RUNNING")).await?;
    }
    let running = text(b, "button.filter[data-status=RUNNING] .count").await?;
    ensure!(
        running == "2",
        "the RUNNING filter counts both sagas: {running:?}"
    );

    b.goto(&format!("{web}/#/sagas/{}", live.saga_id)).await?;
    wait_for(b, "#saga-status[data-status=RUNNING]").await?;
    wait_for(
        b,
        &lane("create_invoice", "action", "[data-outcome=retrying]"),
    )
    .await?;
    wait_for(
        b,
        &lane("create_invoice", "action", "[data-outcome=in_flight]"),
    )
    .await?;
    wait_for(
        b,
        "#timeline .lane[data-step=create_invoice][data-phase=action] .next-attempt",
    )
    .await?;
    // Gone after a reload: seen again at the end, the page was updated in place.
    b.execute("window.sagaTestMark = 'not reloaded'; return true;", vec![])
        .await?;
    drop(paused);
    wait_for(b, "#saga-status[data-status=COMPLETED]").await?;
    wait_for(
        b,
        &lane("confirm_order", "action", "[data-outcome=succeeded]"),
    )
    .await?;
    wait_for(
        b,
        &lane("create_invoice", "action", "[data-outcome=succeeded]"),
    )
    .await?;
    let mark = b.execute("return window.sagaTestMark;", vec![]).await?;
    ensure!(
        mark == json!("not reloaded"),
        "the page was reloaded: {mark}"
    );

    let over = wait_until_ended(&client, &over.saga_id).await?;
    ensure!(over.status() == SagaStatus::Compensated, "{over:#?}");
    b.goto(&format!("{web}/#/sagas/{}", over.saga_id)).await?;
    wait_for(b, "#saga-status[data-status=COMPENSATED]").await?;
    wait_for(
        b,
        &lane("create_order", "compensation", "[data-outcome=succeeded]"),
    )
    .await?;
    let refused = hover_text(
        b,
        &lane("create_invoice", "action", "[data-outcome=failed]"),
    )
    .await?;
    ensure!(
        refused.contains("FailedPrecondition") && refused.contains("over the limit"),
        "the refused call's hover text names its code and error: {refused:?}"
    );
    let lanes = b
        .execute(
            "return [...document.querySelectorAll('#timeline .lane')].map(l => l.dataset.step + '/' + l.dataset.phase);",
            vec![],
        )
        .await?;
    ensure!(
        lanes
            == json!([
                "create_order/action",
                "create_invoice/action",
                "confirm_order/action",
                "create_invoice/compensation",
                "create_order/compensation"
            ]),
        "one lane per step, then the compensations (the timed-out invoice may exist), last first: {lanes}"
    );
    screenshot(browser).await?;

    b.goto(&format!("{web}/#/definitions")).await?;
    let undo = ".definition[data-definition=place-order] .def-step[data-step=create_order] .def-compensation";
    let cancel = text(b, undo).await?;
    ensure!(
        cancel.contains("CancelOrder"),
        "create_order is undone by CancelOrder: {cancel:?}"
    );
    Ok(())
}

/// (4) On every backend (on PostgreSQL through the page of a second replica, which
/// reaches sagas it does not drive): a saga whose compensation is refused for good ends
/// FAILED and is resolved on its page (Resolve, a reason in the confirmation); a saga
/// whose confirmation keeps failing is found with the list's parked filter, tried again
/// now, and skipped with the answer the operator got by hand.
async fn repairing_failed_and_parked_sagas(browser: &Browser, backend: Backend) -> Result<()> {
    let postgres = matches!(backend, Backend::Postgres { .. });
    // cancel_order is refused for good; confirm_order keeps failing, parked at once.
    let faults = "CancelOrder:refuse:1,ConfirmOrder:unavailable:1";
    let options = ClusterOptions::default()
        .backend(backend)
        .orders_faults(faults)
        .orchestrator_arg("--park-after-attempts=2")
        .orchestrator_arg("--parked-retry-ms=600000");
    let (cluster, web) = stack(options).await?;
    let second = match postgres {
        true => Some(cluster.another_orchestrator("web-replica").await?),
        false => None,
    };
    let web = match &second {
        Some(replica) => format!("http://{}", replica.http_addr().context("no HTTP")?),
        None => web,
    };
    let client = cluster.orchestrator();
    let failed = place(&client, "web-failed", 3 * LIMIT_CENTS, 0).await?;
    ensure!(failed.status() == SagaStatus::Failed, "{failed:#?}");
    let parked = place(&client, "web-parked", 2_500, 1).await?;
    wait_until_parked(&client, &parked.saga_id).await?;
    let b = &browser.client;

    b.goto(&format!("{web}/#/sagas/{}", failed.saga_id)).await?;
    wait_for(b, "#saga-status[data-status=FAILED]").await?;
    type_into(b, "#token", "operator-token").await?;
    click(b, "button[data-action=resolve]").await?;
    confirm(b, "order cancelled by hand").await?;
    wait_for(b, "#saga-status[data-status=RESOLVED]").await?;
    wait_for(b, "#log tr td .outcome-resolved").await?;
    let resolved = get(&client, &failed.saga_id).await?;
    ensure!(resolved.status() == SagaStatus::Resolved, "{resolved:#?}");
    ensure!(
        operator_record(&resolved, StepOutcome::Resolved)?.contains("order cancelled by hand"),
        "the log keeps the reason: {resolved:?}"
    );

    b.goto(&format!("{web}/#/")).await?;
    click(b, "#filter-parked").await?;
    let parked_row = row(&parked.saga_id, "RUNNING");
    click(b, &format!("{parked_row} td.id a")).await?;
    wait_for(b, "#saga-status[data-status=RUNNING]").await?;
    let confirm_lane = "#timeline .lane[data-step=confirm_order][data-phase=action]";
    wait_for(b, &format!("{confirm_lane} .next-attempt")).await?;
    let tried = calls_of(&get(&client, &parked.saga_id).await?, "confirm_order");
    click(b, "button[data-action=retry]").await?;
    confirm(b, "orders-svc should be back").await?;
    wait_for_calls(&client, &parked.saga_id, "confirm_order", tried + 1).await?;
    click(b, "button[data-action=skip]").await?;
    wait_for(b, "#confirm-step").await?;
    ensure!(
        text_value(b, "#confirm-step").await? == "confirm_order",
        "the skip dialog offers the stuck step"
    );
    confirm(b, "confirmed by phone").await?;
    wait_for(b, "#saga-status[data-status=COMPLETED]").await?;
    wait_for(
        b,
        &lane("confirm_order", "action", "[data-outcome=skipped]"),
    )
    .await?;
    let skipped = get(&client, &parked.saga_id).await?;
    ensure!(
        operator_record(&skipped, StepOutcome::Skipped)?.contains("confirmed by phone"),
        "the log keeps the reason: {skipped:?}"
    );
    Ok(())
}

/// Fills the open confirmation with `reason` and confirms.
async fn confirm(b: &fantoccini::Client, reason: &str) -> Result<()> {
    wait_for(b, "dialog#confirm[open]").await?;
    type_into(b, "#confirm-reason", reason).await?;
    click(b, "#confirm-ok").await
}

/// The value of a form field.
async fn text_value(b: &fantoccini::Client, css: &str) -> Result<String> {
    let field = wait_for(b, css).await?;
    Ok(field.prop("value").await?.unwrap_or_default())
}

/// The detail of the saga's operator record with `outcome`.
fn operator_record(saga: &Saga, outcome: StepOutcome) -> Result<&str> {
    let record = saga
        .log
        .iter()
        .find(|e| e.step == "operator" && e.outcome() == outcome)
        .context("no operator record in the log")?;
    Ok(&record.detail)
}

/// How many calls the saga's `step` has made.
fn calls_of(saga: &Saga, step: &str) -> usize {
    saga.steps
        .iter()
        .find(|s| s.name == step)
        .map_or(0, |s| s.calls.len())
}

/// The list's row of a saga in `status`.
fn row(saga_id: &str, status: &str) -> String {
    format!("#saga-list tr[data-saga-id='{saga_id}'][data-status={status}]")
}

/// A bar (matching `bar`, e.g. `[data-outcome=failed]`) in a step's lane of the timeline.
fn lane(step: &str, phase: &str, bar: &str) -> String {
    format!("#timeline .lane[data-step={step}][data-phase={phase}] rect.call{bar}")
}

/// Saves the page as `cockpit-saga.png` in `SAGA_SCREENSHOT_DIR`, when it is set.
async fn screenshot(browser: &Browser) -> Result<()> {
    let Some(dir) = std::env::var_os(SCREENSHOT_ENV) else {
        return Ok(());
    };
    let png = browser.client.screenshot().await?;
    if !png.starts_with(b"\x89PNG") {
        bail!("the screenshot is not a PNG");
    }
    let path = std::path::Path::new(&dir).join("cockpit-saga.png");
    std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("saved {}", path.display());
    Ok(())
}
