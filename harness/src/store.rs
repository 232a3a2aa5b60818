//! Results on disk: `results.json` (byte-identical for the same seeds), `run.json` (dates,
//! host, versions, command line), run directories with `latest` pointing at the newest, and
//! shards merged back into one set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use jitterbug_core::results::{Results, SCHEMA_VERSION, ScenarioResult};
use serde::Serialize;

use crate::artifacts::json_text;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a complete results/baseline file (truncated or malformed JSON): {source}")]
    Json {
        file: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}: results schema version {found}; this jitterbug reads versions 1 to {SCHEMA_VERSION}")]
    Schema { file: PathBuf, found: u32 },
}

pub(crate) fn read(path: &Path) -> Result<String, StoreError> {
    std::fs::read_to_string(path).map_err(|source| StoreError::Read { file: path.into(), source })
}

/// Reads a `results.json` of this schema version or the one before.
pub fn load_results(path: &Path) -> Result<Results<ScenarioResult>, StoreError> {
    let r: Results<ScenarioResult> =
        serde_json::from_str(&read(path)?).map_err(|source| StoreError::Json { file: path.into(), source })?;
    if !(1..=SCHEMA_VERSION).contains(&r.schema_version) {
        return Err(StoreError::Schema { file: path.into(), found: r.schema_version });
    }
    Ok(r)
}

/// Writes `value` as pretty JSON with a trailing newline.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    std::fs::write(path, json_text(value)?).with_context(|| format!("writing {}", path.display()))
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

/// A run id from the start time, e.g. `20261124-230900Z`.
pub fn run_id(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string().replace([':', '-'], "").replace('T', "-")
}

/// Writes `run.json` for a run (or a single call) that started at `started`.
pub fn write_run_info(
    dir: &Path,
    started: SystemTime,
    command_line: &[String],
    seeds: &[u64],
    scenarios: usize,
) -> anyhow::Result<()> {
    let id = run_id(started);
    write_json(&dir.join("run.json"), &RunInfo::finished(&id, started, command_line, seeds, scenarios))
}

/// `reports/latest` → the run directory `run_dir` (a sibling of the link).
pub fn point_latest(reports: &Path, run_dir: &Path) -> anyhow::Result<()> {
    let link = reports.join("latest");
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(&link).with_context(|| format!("replacing {}", link.display()))?;
    }
    let target = run_dir.file_name().context("the run directory has a name")?;
    std::os::unix::fs::symlink(target, &link).with_context(|| format!("linking {}", link.display()))
}

/// Combines shard results into one set, sorted by id. The same id twice is an error unless
/// both copies are identical (a shard uploaded twice); so is a mix of jitter buffers.
pub fn merge(files: &[PathBuf]) -> anyhow::Result<Results<ScenarioResult>> {
    let mut seen: BTreeMap<String, (ScenarioResult, &Path)> = BTreeMap::new();
    let mut buffer: Option<(Option<String>, &Path)> = None;
    for f in files {
        let results = load_results(f)?;
        match &buffer {
            Some((b, from)) => anyhow::ensure!(
                *b == results.jitter_buffer,
                "{} was made with jitter buffer {:?}, {} with {:?}: not one run",
                from.display(),
                b,
                f.display(),
                results.jitter_buffer
            ),
            None => buffer = Some((results.jitter_buffer.clone(), f)),
        }
        for r in results.scenarios {
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
    let mut merged = Results::new(seen.into_values().map(|(r, _)| r).collect());
    merged.jitter_buffer = buffer.and_then(|(b, _)| b);
    Ok(merged)
}
