//! Arguments several commands share, parsed once.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use jitterbug::browser::Source;
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips::{self, Clip};
use jitterbug::live::agent::{AgentTarget, RemoteAgent};
use jitterbug::whip_client::Trust;
use jitterbug_core::identity::{Browser, Client};
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;

/// A call length: a finite number of seconds above zero.
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a positive number of seconds, got `{s}`")),
    }
}

/// Who calls.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientArg {
    /// Our client on the webrtc-rs sans-I/O core (the simulator's peer).
    Native,
    Chromium,
    Firefox,
    /// WebKitGTK (MiniBrowser + WebKitWebDriver under Xvfb); Debian's build has no WebRTC.
    Webkit,
    /// Safari, only through `--webdriver` (safaridriver runs on macOS).
    Safari,
}

impl From<ClientArg> for Client {
    fn from(c: ClientArg) -> Client {
        match c {
            ClientArg::Native => Client::Native,
            ClientArg::Chromium => Client::Browser(Browser::Chromium),
            ClientArg::Firefox => Client::Browser(Browser::Firefox),
            ClientArg::Webkit => Client::Browser(Browser::Webkit),
            ClientArg::Safari => Client::Browser(Browser::Safari),
        }
    }
}

/// A browser (the clients minus the native one).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserArg {
    Chromium,
    Firefox,
    /// WebKitGTK (MiniBrowser + WebKitWebDriver under Xvfb); Debian's build has no WebRTC.
    Webkit,
    /// Safari, only through `--webdriver` (safaridriver runs on macOS).
    Safari,
}

impl From<BrowserArg> for Browser {
    fn from(b: BrowserArg) -> Browser {
        match b {
            BrowserArg::Chromium => Browser::Chromium,
            BrowserArg::Firefox => Browser::Firefox,
            BrowserArg::Webkit => Browser::Webkit,
            BrowserArg::Safari => Browser::Safari,
        }
    }
}

/// How the page sends the clip.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceArg {
    /// Web Audio injection (every browser).
    Webaudio,
    /// Chromium's fake capture file (through the browser's voice processing).
    FakeCapture,
}

impl From<SourceArg> for Source {
    fn from(s: SourceArg) -> Source {
        match s {
            SourceArg::Webaudio => Source::WebAudio,
            SourceArg::FakeCapture => Source::FakeCapture,
        }
    }
}

/// The agent to call: the reference agent started here, or a running one.
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// WHIP URL of a running agent (default: start the reference agent on loopback).
    #[arg(long, value_name = "URL", requires = "token")]
    pub agent: Option<String>,
    /// Bearer token for --agent.
    #[arg(long, env = "JITTERBUG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust the agent's certificate through this CA (PEM), e.g. the agent's --ca-out.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Skip certificate verification; refused unless the agent's address is loopback.
    #[arg(long)]
    pub insecure: bool,
    /// The --agent's --record-dir, when it runs on this host: both directions are then
    /// scored from its recordings (otherwise only what the client measures is reported).
    #[arg(long, value_name = "DIR", requires = "agent")]
    pub agent_record_dir: Option<PathBuf>,
}

impl AgentArgs {
    pub fn target(&self) -> anyhow::Result<AgentTarget> {
        let Some(url) = &self.agent else { return Ok(AgentTarget::InProcess) };
        let trust = match (&self.ca, self.insecure) {
            (Some(ca), _) => Trust::Ca(ca.clone()),
            (None, true) => Trust::Insecure,
            (None, false) => anyhow::bail!(
                "--agent {url}: say how to trust its certificate: --ca FILE (e.g. the agent's --ca-out), or --insecure for a loopback test agent"
            ),
        };
        Ok(AgentTarget::Remote(RemoteAgent {
            url: url.clone(),
            token: self.token.clone().unwrap_or_default(),
            trust,
            recordings: self.agent_record_dir.clone(),
        }))
    }
}

/// What one scenario is made of.
#[derive(Args, Debug, Clone)]
pub struct ScenarioArgs {
    /// A profile name, or a path to a profile file.
    #[arg(long)]
    pub profile: String,
    #[arg(long, default_value = "balanced-fec")]
    pub preset: String,
    /// A shipped clip name or a 48 kHz WAV path: the user's line.
    #[arg(long, default_value = "arctic-a0009-slt")]
    pub clip: String,
    /// Seed of every random choice: the same seed replays the same scenario.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl ScenarioArgs {
    pub fn load(&self, profiles: &Profiles, presets: &Presets) -> anyhow::Result<(Profile, Preset, Clip)> {
        Ok((profiles.get(&self.profile)?, presets.get(&self.preset)?, clips::load(&self.clip)?))
    }
}
