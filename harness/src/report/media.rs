//! The worst calls of a run, to listen to and open in Wireshark: reference and degraded audio
//! and the capture, written next to the report (linked relatively, so the page still opens
//! from disk with nothing fetched from a network), and the jitter buffer over the worst call.
//!
//! Simulated scenarios are re-simulated from their id (deterministic by seed) rather than
//! stored by every run; live calls link the files their call directory already holds.

use std::path::{Path, PathBuf};

use jitterbug_core::results::{ScenarioResult, Status};

use super::worst_min;
use crate::catalog::{Presets, Profiles};
use crate::sim::receiver::JbPoint;
use crate::sim::{self, Scenario, encode_cache::EncodeCache};

/// How many of the worst calls get audio and captures.
pub const WORST: usize = 3;
const DIR: &str = "report-media";

/// One worst call's evidence, as paths relative to the report.
#[derive(Debug, Clone, Default)]
pub struct CallMedia {
    pub id: String,
    pub stoi: f64,
    pub reference: Option<String>,
    pub degraded: Option<String>,
    pub capture: Option<String>,
    /// The user's jitter buffer over the call (simulated scenarios).
    pub timeline: Vec<JbPoint>,
    /// Why something is missing, if it is.
    pub note: Option<String>,
}

/// Picks the [`WORST`] ok scenarios by lowest STOI and writes their media under
/// `report_dir/report-media/`. Failures to re-create one become its note.
pub fn prepare(results: &[ScenarioResult], results_dir: &Path, report_dir: &Path) -> Vec<CallMedia> {
    let mut ranked: Vec<(&ScenarioResult, f64)> = results
        .iter()
        .filter(|r| r.status == Status::Ok)
        .filter_map(|r| worst_min(r, |d| d.stoi).map(|s| (r, s)))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
    ranked
        .into_iter()
        .take(WORST)
        .enumerate()
        .map(|(k, (r, stoi))| {
            let mut m = CallMedia { id: r.id.clone(), stoi, ..Default::default() };
            let outcome = if r.backend == "sim" {
                resimulate(r, k, report_dir, &mut m)
            } else {
                link_call_dir(r, results_dir, report_dir, &mut m)
            };
            if let Err(e) = outcome {
                m.note = Some(format!("{e:#}"));
            }
            m
        })
        .collect()
}

fn resimulate(r: &ScenarioResult, k: usize, report_dir: &Path, m: &mut CallMedia) -> anyhow::Result<()> {
    let profile = Profiles::embedded().get(&r.profile)?;
    let preset = Presets::embedded().get(&r.preset)?;
    let clip = crate::clips::load(&r.clip)?.as_call(r.call_s);
    let s = Scenario { profile: &profile, preset: &preset, clip: &clip, seed: r.seed };
    let o = sim::run(&s, &mut EncodeCache::default());
    anyhow::ensure!(
        o.result == *r,
        "re-simulating gave a different result than the run recorded (other profile or preset files?)"
    );
    let dir = report_dir.join(DIR);
    std::fs::create_dir_all(&dir)?;
    let name = |what: &str| format!("{DIR}/{}-{what}", k + 1);
    crate::wav::write_i16(&report_dir.join(name("reference.wav")), &clip.pcm, 48_000)?;
    crate::wav::write_i16(&report_dir.join(name("degraded.wav")), &o.downlink_audio, 48_000)?;
    crate::sim_cmd::write_capture(&report_dir.join(name("capture.pcap")), &o.capture)?;
    m.reference = Some(name("reference.wav"));
    m.degraded = Some(name("degraded.wav"));
    m.capture = Some(name("capture.pcap"));
    m.timeline = o.downlink_timeline;
    Ok(())
}

fn link_call_dir(r: &ScenarioResult, results_dir: &Path, report_dir: &Path, m: &mut CallMedia) -> anyhow::Result<()> {
    let call: PathBuf = ["calls", &r.profile, &r.preset, &r.clip, &r.seed.to_string()].iter().collect::<PathBuf>();
    let abs = results_dir.join(&call);
    anyhow::ensure!(abs.is_dir(), "no call directory {} beside the results", call.display());
    let rel = |f: &str| -> Option<String> {
        let p = abs.join(f);
        p.is_file().then(|| relative(report_dir, &p))
    };
    m.degraded = rel("degraded.wav").or_else(|| rel("browser-heard.wav"));
    m.capture = rel("capture.pcap");
    m.note = Some("live call: the agent's answer is the reference; degraded.wav is what the user heard".into());
    Ok(())
}

/// `path` relative to `from` when it lies below it, else absolute.
fn relative(from: &Path, path: &Path) -> String {
    let from = from.canonicalize().unwrap_or_else(|_| from.to_path_buf());
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&from).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}
