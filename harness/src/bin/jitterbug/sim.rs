//! `jitterbug sim`: one scenario in virtual time.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use jitterbug::backend::{Mode, SimBackend};
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::scenario::Scenario;
use jitterbug_core::identity::Client;

use crate::args::{ScenarioArgs, positive_seconds};

/// One scenario in virtual time: writes result.json, run.json, degraded.wav (what the user
/// heard), degraded-uplink.wav (what the agent heard) and capture.pcap (or, with --full-stack,
/// full-stack.json) into --out.
#[derive(Args, Debug)]
pub struct SimArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Call length: the clip is repeated to at least this many seconds.
    #[arg(long, default_value_t = jitterbug::sim::CALL_SECONDS, value_parser = positive_seconds)]
    call_seconds: f64,
    /// Run the real webrtc-rs stack (ICE + DTLS + SRTP + RTCP) in virtual time; writes
    /// full-stack.json (setup time, ICE state changes, datagrams per kind, SRTP overhead).
    #[arg(long)]
    full_stack: bool,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print the result as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn sim(a: SimArgs, profiles: &Profiles, presets: &Presets, command_line: &[String]) -> anyhow::Result<ExitCode> {
    let (profile, preset, clip) = a.scenario.load(profiles, presets)?;
    let s = Scenario {
        profile: &profile,
        preset: &preset,
        clip: &clip,
        seed: a.scenario.seed,
        client: Client::Native,
        call_seconds: a.call_seconds,
    };
    let backend = SimBackend::new(if a.full_stack { Mode::FullStack } else { Mode::MediaPath });
    crate::one::run(&backend, &s, &a.out, a.json, command_line)
}
