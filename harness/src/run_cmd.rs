//! `jitterbug run`: the main job. Until the media simulator lands it samples every profile in
//! both directions and records measured-vs-configured path statistics per profile.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{Results, Status};
use jitterbug_core::sample::{Bounds, Comparison, Train};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::profiles_cmd::{directions, sample};

/// One scenario of a sampling run.
#[derive(Debug, Clone, Serialize)]
pub struct SampleScenario {
    /// `profile/preset/clip/client/backend/seed`; preset and clip are `-` for path sampling.
    pub id: String,
    pub profile: String,
    pub backend: &'static str,
    pub seed: u64,
    #[serde(flatten)]
    pub status: Status,
    pub uplink: Comparison,
    pub downlink: Comparison,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    pub reports_dir: PathBuf,
    pub packets: u64,
    pub seed: u64,
    pub command_line: Vec<String>,
}

/// Run metadata, kept apart from results so results stay byte-identical per seed.
#[derive(Debug, Serialize)]
struct RunInfo<'a> {
    run_id: &'a str,
    started: String,
    finished: String,
    jitterbug_version: &'static str,
    host: String,
    command_line: &'a [String],
    seed: u64,
    packets_per_direction: u64,
}

/// Samples one profile in both directions and judges agreement with its configuration.
pub fn sample_scenario(profile: &Profile, seed: u64, packets: u64) -> SampleScenario {
    let [(d_up, _), (d_down, _)] = directions(profile);
    let train = Train::voice(packets);
    let uplink = sample(profile, d_up, seed, train);
    let downlink = sample(profile, d_down, seed, train);
    let mut problems: Vec<String> = Vec::new();
    for c in [&uplink, &downlink] {
        let dir = format!("{:?}", c.direction).to_lowercase();
        problems.extend(c.disagreements(Bounds::default()).into_iter().map(|d| format!("{dir} {d}")));
    }
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Error { reason: format!("measured disagrees with configured: {}", problems.join("; ")) }
    };
    SampleScenario {
        id: format!("{}/-/-/sampler/sim/{seed}", profile.name),
        profile: profile.name.clone(),
        backend: "sampler",
        seed,
        status,
        uplink,
        downlink,
    }
}

/// Runs the matrix; returns the output directory and the number of scenarios not `ok`.
pub fn run(catalog: &Catalog, opts: &RunOptions) -> anyhow::Result<(PathBuf, usize)> {
    let started = SystemTime::now();
    let run_id = humantime::format_rfc3339_seconds(started).to_string().replace([':', '-'], "").replace('T', "-");
    let out = opts.out.clone().unwrap_or_else(|| opts.reports_dir.join(&run_id));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let profiles = catalog.all()?;
    let bar = ProgressBar::new(profiles.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} profiles  {msg}").expect("valid template"),
    );
    let mut scenarios = Vec::with_capacity(profiles.len());
    for p in &profiles {
        bar.set_message(p.name.clone());
        scenarios.push(sample_scenario(p, opts.seed, opts.packets));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let failed = scenarios.iter().filter(|s| s.status != Status::Ok).count();

    let results = Results::new(scenarios);
    write_json(&out.join("results.json"), &results)?;
    let info = RunInfo {
        run_id: &run_id,
        started: humantime::format_rfc3339_seconds(started).to_string(),
        finished: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        jitterbug_version: env!("CARGO_PKG_VERSION"),
        host: std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default(),
        command_line: &opts.command_line,
        seed: opts.seed,
        packets_per_direction: opts.packets,
    };
    write_json(&out.join("run.json"), &info)?;
    if opts.out.is_none() {
        point_latest(&opts.reports_dir, &run_id)?;
    }
    Ok((out, failed))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `reports/latest` → the newest run directory.
fn point_latest(reports: &Path, run_id: &str) -> anyhow::Result<()> {
    let link = reports.join("latest");
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(&link).with_context(|| format!("replacing {}", link.display()))?;
    }
    std::os::unix::fs::symlink(run_id, &link).with_context(|| format!("linking {}", link.display()))
}
