//! `jitterbug call` and `jitterbug browser`: one live call.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jitterbug::backend::{Backend, BrowserOptions, LiveBackend, NetnsBackend};
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips::Clip;
use jitterbug::live::agent::AgentTarget;
use jitterbug::scenario::Scenario;
use jitterbug_core::identity::{Browser, Client};
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;

use crate::args::{AgentArgs, BrowserArg, ScenarioArgs, SourceArg, positive_seconds};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallBackend {
    /// Through the userspace relay on loopback.
    Live,
    /// The client, a router with real Linux NAT (the profile's client NAT type) and NFQUEUE
    /// impairment, and the agent each in a network namespace (root; no TURN or agent-side NAT yet).
    Netns,
}

/// One live call through the userspace impairment relay (or, with --backend netns, through a
/// router namespace with real NAT): the native client calls the agent (the reference agent
/// started on loopback, or --agent URL), plays the clip as the user with room for answers,
/// records what it hears. Writes result.json (the `sim` schema plus setup time, candidate type
/// and voice-to-voice latency), capture.pcap, relay.json, client.json, agent-trace.json and the
/// audio into --out. Exit 0 ok, 1 error or invalid, 3 unsupported.
#[derive(Args, Debug)]
pub struct CallArgs {
    #[arg(long, value_enum, default_value_t = CallBackend::Live)]
    backend: CallBackend,
    #[command(flatten)]
    agent: AgentArgs,
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Call length: the clip and room for the answer, repeated to at least this long.
    #[arg(long, default_value_t = 20.0, value_parser = positive_seconds)]
    call_seconds: f64,
    #[arg(long, default_value = "reports/call", value_name = "DIR")]
    out: PathBuf,
    /// Print the result as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

/// One call from a real browser over WebDriver: the test page (browser-tests/page) runs
/// against the reference agent behind the impairment relay (coturn and the browser's own TURN
/// client for TURN profiles), sends the clip, records what it hears and polls getStats.
/// Writes result.json (with the browser, what it negotiated and its getStats series),
/// page-result.json, relay.json, capture.pcap, agent-trace.json and the audio into --out.
/// Exit 0 ok, 1 error or invalid, 3 unsupported (e.g. WebKitGTK without WebRTC).
#[derive(Args, Debug)]
pub struct BrowserArgs {
    #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
    browser: BrowserArg,
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Seconds of audio the page sends (the clip, then silence).
    #[arg(long, alias = "seconds", default_value_t = 10.0, value_parser = positive_seconds)]
    call_seconds: f64,
    /// How the page sends the clip: Web Audio injection (every browser) or Chromium's fake
    /// capture file (through the browser's voice processing).
    #[arg(long, value_enum, default_value_t = SourceArg::Webaudio)]
    source: SourceArg,
    /// Let the browser negotiate RED (off by default: RED is redundancy of its own and would
    /// muddy FEC comparisons). What was negotiated is recorded either way.
    #[arg(long)]
    allow_red: bool,
    /// Use this WebDriver endpoint (a Selenium Grid, safaridriver on a Mac) instead of starting
    /// a driver here. The browser must reach this host's loopback (page, relay on 127.0.0.2,
    /// coturn): run the driver on the same host.
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    #[arg(long, default_value = "reports/browser", value_name = "DIR")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

const ONE: NonZeroUsize = NonZeroUsize::MIN;

fn scenario<'a>(
    a: &ScenarioArgs,
    profile: &'a Profile,
    preset: &'a Preset,
    clip: &'a Clip,
    call_seconds: f64,
) -> Scenario<'a> {
    Scenario { profile, preset, clip, seed: a.seed, client: Client::Native, call_seconds }
}

pub fn call(a: CallArgs, profiles: &Profiles, presets: &Presets, command_line: &[String]) -> anyhow::Result<ExitCode> {
    let (profile, preset, clip) = a.scenario.load(profiles, presets)?;
    let s = scenario(&a.scenario, &profile, &preset, &clip, a.call_seconds);
    let cancel = crate::signals::watch()?;
    let backend: Box<dyn Backend> = match a.backend {
        CallBackend::Netns => {
            anyhow::ensure!(
                a.agent.agent.is_none(),
                "--agent with --backend netns: the reference agent runs in the server namespace; a remote agent cannot"
            );
            eprintln!(
                "calling in network namespaces with profile {}, preset {} ({} s)…",
                profile.name, preset.name, a.call_seconds
            );
            Box::new(NetnsBackend::new(ONE, cancel))
        }
        CallBackend::Live => {
            eprintln!(
                "calling through the relay with profile {}, preset {} ({} s)…",
                profile.name, preset.name, a.call_seconds
            );
            Box::new(LiveBackend::new(a.agent.target()?, BrowserOptions::default(), ONE, cancel)?)
        }
    };
    crate::one::run(&*backend, &s, &a.out, a.json, command_line)
}

pub fn browser(
    a: BrowserArgs,
    profiles: &Profiles,
    presets: &Presets,
    command_line: &[String],
) -> anyhow::Result<ExitCode> {
    let (profile, preset, clip) = a.scenario.load(profiles, presets)?;
    let browser = Browser::from(a.browser);
    let s = Scenario {
        client: Client::Browser(browser),
        ..scenario(&a.scenario, &profile, &preset, &clip, a.call_seconds)
    };
    let options = BrowserOptions { webdriver: a.webdriver, source: a.source.into(), allow_red: a.allow_red };
    let backend = LiveBackend::new(AgentTarget::InProcess, options, ONE, crate::signals::watch()?)?;
    eprintln!("{} call through the relay with profile {}, preset {}…", browser.name(), profile.name, preset.name);
    crate::one::run(&backend, &s, &a.out, a.json, command_line)
}
