//! What the test does on the page: wait (a bounded poll) for an element matching a CSS
//! selector, read its text, click, type, and tell what the page shows when a wait fails.

use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use saga_tests::poll::{Check, eventually};

/// How long the page may take to show what the test waits for.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The first element matching `css`, once there is one.
pub async fn wait_for(client: &Client, css: &str) -> Result<Element> {
    let found = eventually(PATIENCE, css, || async move {
        match client.find(Locator::Css(css)).await {
            Ok(element) => Ok(Check::Done(element)),
            Err(error) if error.is_no_such_element() => Ok(Check::NotYet(format!("no {css}"))),
            Err(error) => Err(error).with_context(|| format!("cannot look for {css}")),
        }
    })
    .await;
    match found {
        Ok(element) => Ok(element),
        Err(error) => Err(error.context(format!("the page shows:\n{}", shown(client).await))),
    }
}

/// The text of the first element matching `css`, once there is one.
pub async fn text(client: &Client, css: &str) -> Result<String> {
    Ok(wait_for(client, css).await?.text().await?)
}

/// Clicks the first element matching `css`, once there is one; an element the page
/// replaced meanwhile (a live update drew it again) is looked for again.
pub async fn click(client: &Client, css: &str) -> Result<()> {
    let what = format!("a click on {css}");
    eventually(PATIENCE, &what, || async move {
        let element = wait_for(client, css).await?;
        match element.click().await {
            Ok(_) => Ok(Check::Done(())),
            Err(error) if error.is_stale_element_reference() => {
                Ok(Check::NotYet(format!("{error}")))
            }
            Err(error) => Err(error).with_context(|| format!("cannot click {css}")),
        }
    })
    .await
}

/// Types `keys` into the first element matching `css`, once there is one.
pub async fn type_into(client: &Client, css: &str, keys: &str) -> Result<()> {
    wait_for(client, css).await?.send_keys(keys).await?;
    Ok(())
}

/// The `<title>` (the hover text) of the first SVG element matching `css`.
pub async fn hover_text(client: &Client, css: &str) -> Result<String> {
    let title = format!("{css} > title");
    let element = wait_for(client, &title).await?;
    Ok(element.prop("textContent").await?.unwrap_or_default())
}

/// The page's visible text, for a failed wait's report.
async fn shown(client: &Client) -> String {
    let url = client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let text = match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(error) => format!("(cannot read the page: {error})"),
    };
    format!("{url}\n{text}")
}
