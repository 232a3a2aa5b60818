//! Who calls the agent: the native client or a browser over WebDriver. Each runs its side of a
//! call against a [`RunningAgent`](super::agent::RunningAgent) and brings back the same thing
//! — what it heard, on the agent's clock, for the two-sided scorer — or why it could not.

pub mod browser;
pub mod native;

use jitterbug_core::agent_trace::AgentTrace;
use jitterbug_core::identity::{Browser, Client};
use jitterbug_core::results::{BrowserInfo, Status};

use super::client::ClientOutcome;
use crate::browser::{PageOutcome, Source};
use crate::score::two_sided::Heard;

/// A browser's part in a call.
#[derive(Debug, Clone)]
pub struct BrowserCaller {
    pub browser: Browser,
    /// An existing WebDriver endpoint (a Selenium Grid, safaridriver) instead of a local driver.
    pub webdriver: Option<String>,
    pub source: Source,
    /// Let the browser negotiate RED (off by default: it muddies FEC comparisons).
    pub allow_red: bool,
}

#[derive(Debug, Clone)]
pub enum Caller {
    Native,
    Browser(BrowserCaller),
}

impl Caller {
    pub fn client(&self) -> Client {
        match self {
            Caller::Native => Client::Native,
            Caller::Browser(b) => Client::Browser(b.browser),
        }
    }
}

/// The caller's own record of the call, for its evidence files.
#[derive(Debug)]
pub enum CallerRecord {
    Native(ClientOutcome),
    /// `None` when the page never reported (the driver or the session failed first).
    Browser(Option<PageOutcome>),
}

/// How a caller's side ended.
#[derive(Debug)]
pub enum CallerResult {
    /// Media flowed; scored next.
    Heard(Box<Heard>),
    /// No call to score: `status` says why (error, or unsupported when the browser lacks
    /// WebRTC); the agent's trace is kept when there was one.
    Failed { status: Status, trace: Option<Box<AgentTrace>> },
}

#[derive(Debug)]
pub struct CallerOutcome {
    pub result: CallerResult,
    pub record: CallerRecord,
    /// What only a browser call has (name, version, negotiation, getStats).
    pub browser: Option<BrowserInfo>,
}

impl CallerOutcome {
    pub fn trace(&self) -> Option<&AgentTrace> {
        match &self.result {
            CallerResult::Heard(h) => Some(&h.trace),
            CallerResult::Failed { trace, .. } => trace.as_deref(),
        }
    }

    fn failed(status: Status, trace: Option<AgentTrace>, record: CallerRecord, browser: Option<BrowserInfo>) -> Self {
        CallerOutcome { result: CallerResult::Failed { status, trace: trace.map(Box::new) }, record, browser }
    }
}
