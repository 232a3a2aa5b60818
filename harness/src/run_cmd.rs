//! `jitterbug run`: the matrix of profiles × presets × clips in virtual time.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{Results, ScenarioResult, Status};
use serde::Serialize;

use crate::clips::Clip;
use crate::sim::{self, Scenario, encode_cache::EncodeCache};

/// A deterministic slice `K/N` of a matrix, for spreading a sweep over CI jobs. A scenario
/// belongs to shard `hash(id) mod N + 1` (FNV-1a): stable under adding or removing other
/// scenarios, so every scenario runs in exactly one of the N jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let err = || format!("--shard {s:?}: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count) = (k.trim().parse::<u64>().map_err(|_| err())?, n.trim().parse::<u64>().map_err(|_| err())?);
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    pub fn includes(&self, id: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h % self.count == self.index - 1
    }
}

/// Which simulator runs the scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The media path: RTP straight through the impairment core.
    #[default]
    MediaPath,
    /// The real webrtc-rs stack (ICE + DTLS + SRTP + RTCP) in virtual time.
    #[cfg(feature = "full-stack")]
    FullStack,
}

impl Mode {
    fn run(self, s: &Scenario<'_>, cache: &mut EncodeCache) -> ScenarioResult {
        match self {
            Mode::MediaPath => sim::run(s, cache).result,
            #[cfg(feature = "full-stack")]
            Mode::FullStack => sim::full_stack::run_full_stack(s, cache).result,
        }
    }
}

/// How every scenario of a matrix is run.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Every scenario runs once per seed.
    pub seeds: Vec<u64>,
    /// Each clip is repeated to at least this long a call.
    pub call_seconds: f64,
    pub shard: Option<Shard>,
    pub mode: Mode,
}

impl Sweep {
    /// The media path over `seeds` with calls of `call_seconds`, unsharded.
    pub fn new(seeds: &[u64], call_seconds: f64) -> Sweep {
        Sweep { seeds: seeds.to_vec(), call_seconds, shard: None, mode: Mode::MediaPath }
    }
}

/// What to run and where to write it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    pub reports_dir: PathBuf,
    pub sweep: Sweep,
    /// Golden baselines to gate the report against, if any.
    pub baseline: Option<PathBuf>,
    pub command_line: Vec<String>,
}

/// Run metadata, kept apart from results so results stay byte-identical per seed.
#[derive(Debug, Serialize)]
pub struct RunInfo<'a> {
    pub run_id: &'a str,
    pub started: String,
    pub finished: String,
    pub jitterbug_version: &'static str,
    /// The reference agent's version and the webrtc crate it is built on.
    pub agent_version: &'static str,
    pub webrtc_version: &'static str,
    pub libopus_version: String,
    pub host: String,
    pub command_line: &'a [String],
    pub seeds: &'a [u64],
    pub scenarios: usize,
    pub wall_seconds: f64,
}

impl<'a> RunInfo<'a> {
    /// Metadata of a run that started at `started` and has just finished.
    pub fn finished(
        run_id: &'a str,
        started: SystemTime,
        command_line: &'a [String],
        seeds: &'a [u64],
        scenarios: usize,
    ) -> Self {
        RunInfo {
            run_id,
            started: humantime::format_rfc3339_seconds(started).to_string(),
            finished: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            jitterbug_version: env!("CARGO_PKG_VERSION"),
            agent_version: jitterbug_agent::VERSION,
            webrtc_version: crate::embedded::WEBRTC_VERSION,
            libopus_version: jitterbug_core::codec::libopus_version(),
            host: std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default(),
            command_line,
            seeds,
            scenarios,
            wall_seconds: started.elapsed().map(|d| d.as_secs_f64()).unwrap_or_default(),
        }
    }
}

/// Runs every profile × preset × clip × seed on all cores; sorted by scenario id. Each
/// scenario is independent and seeded, so the results do not depend on the thread count.
pub fn matrix(
    profiles: &[Profile],
    presets: &[Preset],
    clips: &[Clip],
    sweep: &Sweep,
    progress: bool,
) -> Vec<ScenarioResult> {
    let Sweep { seeds, call_seconds, shard, mode } = sweep;
    let total = profiles.len() * presets.len() * clips.len() * seeds.len();
    let bar = if progress { ProgressBar::new(total as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios  {elapsed_precise} (eta {eta})  {msg}")
            .expect("valid template"),
    );
    let calls: Vec<Clip> = clips.iter().map(|c| c.as_call(*call_seconds)).collect();
    // Work items grouped by clip × preset, so each encoding is made once per thread.
    let groups: Vec<(&Clip, &Preset)> = calls.iter().flat_map(|c| presets.iter().map(move |p| (c, p))).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(groups.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<ScenarioResult> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut cache = EncodeCache::default();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(clip, preset)) = groups.get(i) else { break };
                        for profile in profiles {
                            for &seed in seeds {
                                let s = Scenario { profile, preset, clip, seed };
                                bar.inc(1);
                                if shard.is_some_and(|sh| !sh.includes(&s.id())) {
                                    continue;
                                }
                                bar.set_message(s.id());
                                done.push(mode.run(&s, &mut cache));
                            }
                        }
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a simulation thread panicked")).collect()
    });
    bar.finish_and_clear();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Writes `value` as pretty JSON with a trailing newline.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A run id from the start time, e.g. `20261124-230900Z`.
pub fn run_id(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string().replace([':', '-'], "").replace('T', "-")
}

/// Runs the matrix and writes `results.json` and `run.json`; returns the directory and the
/// number of scenarios that ended in `error` or `invalid`.
pub fn run(
    profiles: &[Profile],
    presets: &[Preset],
    clips: &[Clip],
    opts: &RunOptions,
) -> anyhow::Result<(PathBuf, usize)> {
    run_with(opts, |_| Ok(matrix(profiles, presets, clips, &opts.sweep, true)))
}

/// Runs scenarios with `runner` (given the output directory) and writes `results.json`,
/// `run.json` and `report.html`; returns the directory and the number that ended in `error`
/// or `invalid`.
pub fn run_with(
    opts: &RunOptions,
    runner: impl FnOnce(&Path) -> anyhow::Result<Vec<ScenarioResult>>,
) -> anyhow::Result<(PathBuf, usize)> {
    let started = SystemTime::now();
    let id = run_id(started);
    let out = opts.out.clone().unwrap_or_else(|| opts.reports_dir.join(&id));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let scenarios = runner(&out)?;
    // Unsupported is a known gap, recorded and gated as such; errors and invalid runs fail.
    let failed = scenarios.iter().filter(|s| matches!(s.status, Status::Error { .. } | Status::Invalid { .. })).count();
    let count = scenarios.len();
    write_json(&out.join("results.json"), &Results::new(scenarios))?;
    write_json(&out.join("run.json"), &RunInfo::finished(&id, started, &opts.command_line, &opts.sweep.seeds, count))?;
    write_report(&out.join("results.json"), &out.join("report.html"), opts.baseline.as_deref())?;
    if opts.out.is_none() {
        point_latest(&opts.reports_dir, &id)?;
    }
    Ok((out, failed))
}

/// `reports/latest` → the newest run directory.
fn point_latest(reports: &Path, run_id: &str) -> anyhow::Result<()> {
    let link = reports.join("latest");
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(&link).with_context(|| format!("replacing {}", link.display()))?;
    }
    std::os::unix::fs::symlink(run_id, &link).with_context(|| format!("linking {}", link.display()))
}

/// Combines shard results into one set, sorted by id. The same id twice is an error unless
/// both copies are identical (a shard uploaded twice).
pub fn merge(files: &[PathBuf]) -> anyhow::Result<Results<ScenarioResult>> {
    let mut seen: std::collections::BTreeMap<String, (ScenarioResult, &Path)> = Default::default();
    for f in files {
        for r in crate::gate_cmd::load_results(f)? {
            if let Some((prev, from)) = seen.get(&r.id) {
                anyhow::ensure!(
                    *prev == r,
                    "scenario {} is in both {} and {} with different results",
                    r.id,
                    from.display(),
                    f.display()
                );
                continue;
            }
            seen.insert(r.id.clone(), (r, f));
        }
    }
    Ok(Results::new(seen.into_values().map(|(r, _)| r).collect()))
}

/// Renders `results` (with the `run.json` beside it, and gated against `baseline` when given)
/// into one self-contained HTML file.
pub fn write_report(results: &Path, output: &Path, baseline: Option<&Path>) -> anyhow::Result<()> {
    let scenarios = crate::gate_cmd::load_results(results)?;
    let run: Option<serde_json::Value> = results
        .parent()
        .map(|d| d.join("run.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    let gate = baseline.map(|b| crate::gate_cmd::gate(b, &scenarios, &[])).transpose()?;
    let results_dir = results.parent().unwrap_or(Path::new("."));
    let report_dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let media = crate::report::media::prepare(&scenarios, results_dir, report_dir);
    let html = crate::report::render(&scenarios, run.as_ref(), gate.as_ref(), &media);
    std::fs::write(output, html).with_context(|| format!("writing {}", output.display()))
}
