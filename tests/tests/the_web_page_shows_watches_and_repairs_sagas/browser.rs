//! A headless Chromium for one test, driven over WebDriver: Debian's `chromedriver`
//! started on a free loopback port in a process group of its own (so that the browser it
//! starts goes with it), and a fantoccini session on it with a fresh profile and nothing
//! that reaches beyond loopback (no sync, no updates, no background fetches).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use saga_tests::chaos::setup::free_ports;
use saga_tests::poll::{Check, eventually};
use serde_json::json;
use tokio::process::{Child, Command};

/// Name other binaries than Debian's.
const CHROMEDRIVER_ENV: &str = "SAGA_TEST_CHROMEDRIVER";
const CHROMIUM_ENV: &str = "SAGA_TEST_CHROMIUM";
/// Set (CI sets it) to fail rather than skip when the browser is not installed.
const REQUIRE_ENV: &str = "SAGA_REQUIRE_BROWSER";
/// How long chromedriver may take to listen, and the browser to start.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The window the page is drawn (and screenshotted) in.
pub const WINDOW: (u32, u32) = (1280, 800);

/// A running chromedriver and a browser session on it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or `None` (saying the test is
    /// skipped) when either is not installed; an error instead with
    /// `SAGA_REQUIRE_BROWSER` set, so that CI cannot pass without having run the test.
    pub async fn start() -> Result<Option<Self>> {
        let (Some(driver), Some(chromium)) = (
            installed(CHROMEDRIVER_ENV, "/usr/bin/chromedriver"),
            installed(CHROMIUM_ENV, "/usr/bin/chromium"),
        ) else {
            if std::env::var_os(REQUIRE_ENV).is_some() {
                bail!(
                    "chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver), and {REQUIRE_ENV} says the browser test must run"
                );
            }
            eprintln!(
                "== chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver): the browser test is SKIPPED"
            );
            return Ok(None);
        };
        let profile = tempfile::Builder::new()
            .prefix("saga-chromium-")
            .tempdir()?;
        let [addr] = free_ports(1)?[..] else {
            bail!("no free port for chromedriver");
        };
        let driver = spawn_driver(&driver, addr.port(), profile.path())?;
        let url = format!("http://{addr}");
        let browser = Browser {
            client: connect(&url, &chromium, profile.path()).await?,
            driver,
            profile,
        };
        browser.size_viewport().await?;
        Ok(Some(browser))
    }

    /// Makes the page's viewport (not the window around it) [`WINDOW`] large.
    async fn size_viewport(&self) -> Result<()> {
        let (width, height) = WINDOW;
        self.client.set_window_size(width, height).await?;
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await?;
        let frame = |i: usize, want: u32| {
            let got = inner[i].as_u64().and_then(|v| u32::try_from(v).ok());
            want + want.saturating_sub(got.unwrap_or(want))
        };
        self.client
            .set_window_size(frame(0, width), frame(1, height))
            .await
            .context("cannot size the browser's window")
    }

    /// Ends the session (the browser exits), then stops chromedriver.
    pub async fn close(mut self) -> Result<()> {
        let closed = self.client.clone().close().await;
        self.kill_driver();
        self.driver.wait().await?;
        closed.context("cannot end the browser session")
    }

    /// chromedriver's log, for a failure's report.
    pub fn driver_log(&self) -> String {
        let log = self.profile.path().join("chromedriver.log");
        saga_tests::process::log_tail(&log, 40)
    }

    /// SIGKILL to chromedriver's process group: chromedriver and the browser it started.
    fn kill_driver(&self) {
        if let Some(pid) = self.driver.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill_driver();
    }
}

/// The binary named by `env`, else `default` when it exists.
fn installed(env: &str, default: &str) -> Option<PathBuf> {
    match std::env::var_os(env) {
        Some(path) => Some(PathBuf::from(path)),
        None => Some(PathBuf::from(default)).filter(|path| path.exists()),
    }
}

fn spawn_driver(binary: &Path, port: u16, profile: &Path) -> Result<Child> {
    Command::new(binary)
        .arg(format!("--port={port}"))
        .arg(format!(
            "--log-path={}",
            profile.join("chromedriver.log").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot spawn {}", binary.display()))
}

/// A session on the chromedriver at `url`, once it listens.
async fn connect(url: &str, chromium: &Path, profile: &Path) -> Result<Client> {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                format!("--user-data-dir={}", profile.join("profile").display()),
            ],
        }),
    );
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    eventually(READY_TIMEOUT, "a browser session from chromedriver", || {
        let builder = &builder;
        async move {
            Ok(match builder.connect(url).await {
                Ok(client) => Check::Done(client),
                Err(error) => Check::NotYet(error.to_string()),
            })
        }
    })
    .await
}
