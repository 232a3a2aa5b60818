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
use crate::run_cmd::{RunInfo, run_id, write_json};
use crate::sim::{self, Scenario, encode_cache::EncodeCache};
use crate::wav;

/// Runs the scenario and writes `result.json`, `run.json`, `degraded.wav` (what the user
/// heard: downlink), `degraded-uplink.wav` (what the agent heard) and `capture.pcap`.
pub fn sim(profile: &Profile, preset: &Preset, clip: &Clip, seed: u64, out: &Path, command_line: &[String]) -> anyhow::Result<ScenarioResult> {
    // `clip` is the call as played: the caller repeats a clip with `Clip::as_call` if wanted.
    let started = SystemTime::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let scenario = Scenario { profile, preset, clip, seed };
    let output = sim::run(&scenario, &mut EncodeCache::default());
    // Results first: whatever fails later, what was measured is on disk.
    write_json(&out.join("result.json"), &output.result)?;
    wav::write_i16(&out.join("degraded.wav"), &output.downlink_audio, 48_000)?;
    wav::write_i16(&out.join("degraded-uplink.wav"), &output.uplink_audio, 48_000)?;
    let frames: Vec<pcap::Frame<'_>> = output
        .capture
        .iter()
        .map(|c| {
            let (src, dst) = match c.direction {
                Direction::Uplink => (pcap::CLIENT, pcap::AGENT),
                Direction::Downlink => (pcap::AGENT, pcap::CLIENT),
            };
            pcap::Frame { at: c.at.saturating_since(Default::default()), src, dst, payload: &c.bytes }
        })
        .collect();
    pcap::write(&out.join("capture.pcap"), &frames)?;
    let id = run_id(started);
    let info = RunInfo {
        run_id: &id,
        started: humantime::format_rfc3339_seconds(started).to_string(),
        finished: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        jitterbug_version: env!("CARGO_PKG_VERSION"),
        libopus_version: jitterbug_core::codec::libopus_version(),
        host: std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default(),
        command_line,
        seeds: &[seed],
        scenarios: 1,
        wall_seconds: started.elapsed().map(|d| d.as_secs_f64()).unwrap_or_default(),
    };
    write_json(&out.join("run.json"), &info)?;
    Ok(output.result)
}
