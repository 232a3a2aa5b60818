//! `jitterbug sim`: one scenario in virtual time, with its audio and capture on disk.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use jitterbug_core::impairment::Direction;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::ScenarioResult;

use crate::clips::Clip;
use crate::pcap;
use crate::run_cmd::{Mode, RunInfo, run_id, write_json};
use crate::sim::{self, Scenario, encode_cache::EncodeCache};
use crate::wav;

/// Runs the scenario and writes `result.json`, `run.json`, `degraded.wav` (what the user
/// heard: downlink), `degraded-uplink.wav` (what the agent heard), and `capture.pcap` (media
/// path) or `full-stack.json` (the webrtc-rs stack's own statistics; its packets are
/// encrypted, so there is no capture). `clip` is the call as played (see `Clip::as_call`).
pub fn sim(
    profile: &Profile,
    preset: &Preset,
    clip: &Clip,
    seed: u64,
    mode: Mode,
    out: &Path,
    command_line: &[String],
) -> anyhow::Result<ScenarioResult> {
    let started = SystemTime::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let scenario = Scenario { profile, preset, clip, seed };
    let result = match mode {
        Mode::MediaPath => media_path(&scenario, out)?,
        #[cfg(feature = "full-stack")]
        Mode::FullStack => full_stack(&scenario, out)?,
    };
    let id = run_id(started);
    write_json(&out.join("run.json"), &RunInfo::finished(&id, started, command_line, &[seed], 1))?;
    Ok(result)
}

#[cfg(feature = "full-stack")]
fn full_stack(scenario: &Scenario<'_>, out: &Path) -> anyhow::Result<ScenarioResult> {
    let o = sim::full_stack::run_full_stack(scenario, &mut EncodeCache::default());
    write_json(&out.join("result.json"), &o.result)?;
    write_json(&out.join("full-stack.json"), &o.full_stack)?;
    wav::write_i16(&out.join("degraded.wav"), &o.downlink_audio, 48_000)?;
    wav::write_i16(&out.join("degraded-uplink.wav"), &o.uplink_audio, 48_000)?;
    Ok(o.result)
}

fn media_path(scenario: &Scenario<'_>, out: &Path) -> anyhow::Result<ScenarioResult> {
    let output = sim::run(scenario, &mut EncodeCache::default());
    // Results first: whatever fails later, what was measured is on disk.
    write_json(&out.join("result.json"), &output.result)?;
    wav::write_i16(&out.join("degraded.wav"), &output.downlink_audio, 48_000)?;
    wav::write_i16(&out.join("degraded-uplink.wav"), &output.uplink_audio, 48_000)?;
    write_capture(&out.join("capture.pcap"), &output.capture)?;
    Ok(output.result)
}

/// A simulated capture as pcap: the media path's RTP between the documentation addresses.
pub fn write_capture(path: &Path, capture: &[sim::Captured]) -> anyhow::Result<()> {
    let frames: Vec<pcap::Frame<'_>> = capture
        .iter()
        .map(|c| {
            let (src, dst) = match c.direction {
                Direction::Uplink => (pcap::CLIENT, pcap::AGENT),
                Direction::Downlink => (pcap::AGENT, pcap::CLIENT),
            };
            pcap::Frame { at: c.at.saturating_since(Default::default()), src, dst, payload: &c.bytes }
        })
        .collect();
    pcap::write(path, &frames)
}
