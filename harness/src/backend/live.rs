//! Real calls in real time on loopback: the reference agent (or any WHIP agent) behind the
//! userspace impairment relay, called by the native client or a browser.

use std::num::NonZeroUsize;

use jitterbug_core::identity::{BackendKind, Browser, Client};
use jitterbug_core::profile::TurnTransport;

use super::{Backend, Concurrency, Unsupported};
use crate::artifacts::CallArtifacts;
use crate::browser::Source;
use crate::cancel::Cancel;
use crate::live::agent::AgentTarget;
use crate::live::call::{CallSpec, NetworkPath, call};
use crate::live::caller::{BrowserCaller, Caller};
use crate::scenario::Scenario;

/// How browser callers are run.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// An existing WebDriver endpoint (a Selenium Grid, safaridriver) instead of a local driver.
    pub webdriver: Option<String>,
    pub source: Source,
    pub allow_red: bool,
}

pub struct LiveBackend {
    pub agent: AgentTarget,
    pub browsers: BrowserOptions,
    parallel: NonZeroUsize,
    cancel: Cancel,
    runtime: tokio::runtime::Runtime,
}

impl LiveBackend {
    /// `parallel` calls at once (1 on a small machine: concurrent calls compete for the CPU
    /// and their timing stops being the network's).
    pub fn new(
        agent: AgentTarget,
        browsers: BrowserOptions,
        parallel: NonZeroUsize,
        cancel: Cancel,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        Ok(LiveBackend { agent, browsers, parallel, cancel, runtime })
    }

    /// The caller `s` names, with this backend's browser options.
    fn caller(&self, client: Client) -> Caller {
        match client {
            Client::Native => Caller::Native,
            Client::Browser(browser) => Caller::Browser(BrowserCaller {
                browser,
                webdriver: self.browsers.webdriver.clone(),
                source: self.browsers.source,
                allow_red: self.browsers.allow_red,
            }),
        }
    }
}

impl Backend for LiveBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Live
    }

    fn supports(&self, s: &Scenario<'_>) -> Result<(), Unsupported> {
        let turn = s.profile.nat.turn;
        match s.client {
            Client::Native if matches!(turn, TurnTransport::Tcp | TurnTransport::Tls) => Err(Unsupported(
                format!("turn over {turn:?}: the native client's TURN is UDP only (browsers run this profile)")
                    .to_lowercase(),
            )),
            Client::Native => Ok(()),
            Client::Browser(_) if matches!(self.agent, AgentTarget::Remote(_)) => Err(Unsupported(
                "browsers call the reference agent started here; --agent is for the native client".into(),
            )),
            Client::Browser(b) if b != Browser::Chromium && self.browsers.source == Source::FakeCapture => {
                Err(Unsupported(format!(
                    "{}: fake capture needs Chromium's --use-file-for-fake-audio-capture; use the webaudio source",
                    b.name()
                )))
            }
            Client::Browser(Browser::Safari) if turn == TurnTransport::Tls => Err(Unsupported(
                "safari: Safari trusts certificates only through the macOS keychain; the harness cannot add its \
                 throwaway TURN/TLS CA there"
                    .into(),
            )),
            Client::Browser(_) => Ok(()),
        }
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency::Calls(self.parallel)
    }

    fn run(&self, s: &Scenario<'_>) -> anyhow::Result<CallArtifacts> {
        let scratch = tempfile::Builder::new().prefix("jitterbug-call-").tempdir()?;
        let spec = CallSpec {
            scenario: *s,
            caller: self.caller(s.client),
            agent: self.agent.clone(),
            path: NetworkPath::Relay,
        };
        self.runtime.block_on(self.cancel.run(call(spec, scratch.path())))?.into_artifacts()
    }

    fn keeps_evidence(&self) -> bool {
        true
    }
}
