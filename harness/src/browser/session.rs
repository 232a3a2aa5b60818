//! One browser call, driver start to quit: serve the page, start (or reach) the WebDriver
//! server, open a session, load the page, wait for `window.__done`, collect what the page
//! uploaded, quit. Every step has a timeout inside the run's overall deadline, and everything
//! started here stops when the run ends, however it ends.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::capture;
use super::config::{CertTrust, IceServer, PageConfig, Source};
use super::driver::{Browser, Driver, capabilities};
use super::error::{BrowserError, Step};
use super::server::{AgentSession, PageServer};
use crate::whip_client::WhipClient;

/// Per-step caps (the run's deadline may cut them shorter).
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
const GOTO_TIMEOUT: Duration = Duration::from_secs(30);
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `window.__done` is read.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

pub struct PageRun {
    pub browser: Browser,
    /// An already running WebDriver server to use instead of starting one.
    pub webdriver: Option<String>,
    /// The agent the page's `POST /whip` is proxied to.
    pub whip: WhipClient,
    /// 48 kHz mono WAV the page sends (played once from when the call connects).
    pub clip_wav: Vec<u8>,
    /// How long the clip plays.
    pub duration: Duration,
    /// Recording after the clip, for the agent's answer.
    pub tail: Duration,
    pub source: Source,
    pub ice_servers: Vec<IceServer>,
    /// `iceTransportPolicy: "relay"`: TURN only.
    pub relay_only: bool,
    /// A certificate to trust (a `turns:` server's).
    pub trust: Option<CertTrust>,
    pub allow_red: bool,
    pub stats_interval: Duration,
    /// The whole run, driver start to quit.
    pub deadline: Duration,
}

/// Wall-clock time of each step, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CycleTimings {
    pub driver_ready_ms: f64,
    pub session_ms: f64,
    pub goto_ms: f64,
    pub page_run_ms: f64,
    pub quit_ms: f64,
    /// Driver start to quit.
    pub total_ms: f64,
}

#[derive(Debug)]
pub struct PageOutcome {
    /// As the WebDriver session reports it (`chrome`, `firefox`, `MiniBrowser`).
    pub browser_name: String,
    pub browser_version: String,
    /// The page's `/result`: negotiation, ICE states, stats series, …; or `unsupported` with
    /// the page's reason when the browser cannot make the call.
    pub result: Value,
    /// What the page sent and what it received, 48 kHz, sample-aligned on the page's
    /// AudioContext clock; empty when unsupported.
    pub sent: Vec<i16>,
    pub received: Vec<i16>,
    /// The agent sessions the page opened, with their traces.
    pub agent_sessions: Vec<AgentSession>,
    pub timings: CycleTimings,
}

impl PageOutcome {
    /// The page's reason when the browser cannot make the call.
    pub fn unsupported(&self) -> Option<&str> {
        self.result.get("unsupported").and_then(Value::as_str)
    }
}

/// Runs the page in `opts.browser` against the agent behind `opts.whip`.
pub async fn run_page(opts: PageRun) -> Result<PageOutcome, BrowserError> {
    let browser = opts.browser;
    if opts.source == Source::FakeCapture && browser != Browser::Chromium {
        return Err(BrowserError::Unsupported {
            browser,
            reason: "fake capture needs Chromium's --use-file-for-fake-audio-capture; use the webaudio source".into(),
        });
    }
    let started = Instant::now();
    let left = |step: Step, cap: Duration| -> Result<Duration, BrowserError> {
        let remaining = opts.deadline.saturating_sub(started.elapsed());
        if remaining.is_zero() {
            return Err(BrowserError::Timeout { browser, step, after: opts.deadline });
        }
        Ok(remaining.min(cap))
    };

    let scratch = tempfile::Builder::new()
        .prefix(&format!("jitterbug-{browser}-page-"))
        .tempdir()
        .map_err(|source| BrowserError::Scratch { source })?;
    let profile = scratch.path().join("profile");
    std::fs::create_dir(&profile).map_err(|source| BrowserError::Scratch { source })?;
    let fake_capture = match opts.source {
        Source::FakeCapture => {
            let wav = scratch.path().join("fake-capture.wav");
            std::fs::write(&wav, &opts.clip_wav).map_err(|source| BrowserError::Scratch { source })?;
            Some(wav)
        }
        Source::WebAudio => None,
    };
    let caps = capabilities(browser, &profile, fake_capture.as_deref(), opts.trust.as_ref())?;
    let config = PageConfig {
        duration_s: opts.duration.as_secs_f64(),
        tail_s: opts.tail.as_secs_f64(),
        source: opts.source,
        ice_servers: opts.ice_servers,
        ice_transport_policy: if opts.relay_only { "relay" } else { "all" },
        allow_red: opts.allow_red,
        stats_interval_ms: opts.stats_interval.as_millis().max(1) as u64,
    };
    let server =
        PageServer::start(&config, opts.clip_wav, opts.whip).await.map_err(|source| BrowserError::Server { source })?;

    let mut timings = CycleTimings::default();
    let cycle = Instant::now();
    let step_start = Instant::now();
    let driver = match &opts.webdriver {
        Some(url) => Driver::external(browser, url),
        None => {
            let after = left(Step::DriverStart, DRIVER_START_TIMEOUT)?;
            tokio::time::timeout(after, Driver::start(browser)).await.map_err(|_| BrowserError::Timeout {
                browser,
                step: Step::DriverStart,
                after,
            })??
        }
    };
    timings.driver_ready_ms = ms(step_start);

    let step_start = Instant::now();
    let client = driver.session(caps, left(Step::Session, SESSION_TIMEOUT)?).await?;
    timings.session_ms = ms(step_start);
    let reported =
        |key: &str| client.capabilities().and_then(|c| c.get(key)).and_then(Value::as_str).map(str::to_owned);
    let browser_name = reported("browserName").unwrap_or_else(|| browser.name().to_string());
    let browser_version = reported("browserVersion").unwrap_or_default();

    let page = drive_page(&client, &server, browser, &mut timings, &left).await;

    // Quit whatever happened in the page; the driver's process group goes right after.
    let step_start = Instant::now();
    let quit = tokio::time::timeout(QUIT_TIMEOUT, client.close()).await;
    drop(driver);
    timings.quit_ms = ms(step_start);
    timings.total_ms = ms(cycle);
    let agent_sessions = server.close_sessions().await;

    let done = page?;
    match quit {
        Ok(Ok(())) => {}
        Ok(Err(source)) => return Err(BrowserError::Command { browser, step: Step::Quit, source }),
        Err(_) => return Err(BrowserError::Timeout { browser, step: Step::Quit, after: QUIT_TIMEOUT }),
    }
    let result = server.take_result();
    if let Some(message) = done.get("error").and_then(Value::as_str) {
        let stack = result.as_ref().and_then(|r| r.get("stack")).and_then(Value::as_str).map(str::to_owned);
        return Err(BrowserError::Page { browser, message: message.to_string(), stack });
    }
    let result = result.ok_or(BrowserError::PageIncomplete { browser, missing: "posting /result" })?;
    let (sent, received) = if result.get("unsupported").is_some() {
        (Vec::new(), Vec::new())
    } else {
        let wav = server.take_audio().ok_or(BrowserError::PageIncomplete { browser, missing: "posting /audio" })?;
        capture::split(&wav).map_err(|reason| BrowserError::Capture { browser, reason })?
    };
    Ok(PageOutcome { browser_name, browser_version, result, sent, received, agent_sessions, timings })
}

/// Loads the page and waits for its `window.__done`, which it returns.
async fn drive_page(
    client: &fantoccini::Client,
    server: &PageServer,
    browser: Browser,
    timings: &mut CycleTimings,
    left: &impl Fn(Step, Duration) -> Result<Duration, BrowserError>,
) -> Result<Value, BrowserError> {
    let command = |step| move |source| BrowserError::Command { browser, step, source };
    let step_start = Instant::now();
    let after = left(Step::Goto, GOTO_TIMEOUT)?;
    tokio::time::timeout(after, client.goto(&server.url()))
        .await
        .map_err(|_| BrowserError::Timeout { browser, step: Step::Goto, after })?
        .map_err(command(Step::Goto))?;
    timings.goto_ms = ms(step_start);

    let step_start = Instant::now();
    let after = left(Step::PageRun, Duration::MAX)?;
    let poll = async {
        loop {
            let done = client.execute("return window.__done", Vec::new()).await.map_err(command(Step::PageRun))?;
            if !done.is_null() {
                return Ok(done);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    let done = tokio::time::timeout(after, poll).await.map_err(|_| BrowserError::Timeout {
        browser,
        step: Step::PageRun,
        after,
    })?;
    timings.page_run_ms = ms(step_start);
    done
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
