//! The worst calls of a run, to listen to and open in Wireshark: reference and degraded audio
//! and the capture, next to the report (linked relatively, so the page still opens from disk
//! with nothing fetched from a network), and the jitter buffer over the worst call. Where
//! the files come from is the caller's business ([`MediaSource`]): simulated calls are
//! re-created from their seed, live calls link the evidence their run kept.

use std::path::Path;

use jitterbug_core::jitter_buffer::JbPoint;
use jitterbug_core::results::{ScenarioResult, Status};

use super::worst_min;

/// How many of the worst calls get audio and captures.
pub const WORST: usize = 3;
/// Where re-created media go, below the report.
pub const DIR: &str = "report-media";

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

/// Finds or re-creates a call's evidence for the report.
pub trait MediaSource {
    /// `r`'s media under `report_dir`, its new files named with `prefix` (e.g.
    /// `report-media/1-`), as paths relative to the report; `m` arrives with the id and STOI.
    fn media(&self, r: &ScenarioResult, prefix: &str, report_dir: &Path, m: &mut CallMedia) -> anyhow::Result<()>;

    /// The user's (downlink) jitter buffer over `r`'s call.
    fn timeline(&self, r: &ScenarioResult) -> anyhow::Result<Vec<JbPoint>>;
}

/// The call a profile treated worst, and its user's buffer over time.
#[derive(Debug, Clone)]
pub struct ProfileTimeline {
    pub profile: String,
    pub id: String,
    /// Downlink STOI, and the shares of played samples concealed and stretched.
    pub stoi: f64,
    pub concealed_share: f64,
    pub stretched_share: f64,
    /// Or why there is none.
    pub timeline: Result<Vec<JbPoint>, String>,
}

/// Per profile (in the run's order), the ok scenario with the lowest downlink STOI and its
/// buffer's timeline from `source`.
pub fn worst_per_profile(results: &[ScenarioResult], source: &dyn MediaSource) -> Vec<ProfileTimeline> {
    let profiles = super::distinct(results.iter().map(|r| r.profile.as_str()));
    profiles
        .into_iter()
        .filter_map(|profile| {
            let (r, d) = results
                .iter()
                .filter(|r| r.profile == profile && r.status == Status::Ok)
                .filter_map(|r| r.downlink.as_ref().filter(|d| d.stoi.is_finite()).map(|d| (r, d)))
                .min_by(|a, b| a.1.stoi.total_cmp(&b.1.stoi).then_with(|| a.0.id.cmp(&b.0.id)))?;
            Some(ProfileTimeline {
                profile: profile.to_string(),
                id: r.id.clone(),
                stoi: d.stoi,
                concealed_share: d.concealment_ratio,
                stretched_share: d.jitter_buffer.stretched_ratio(),
                timeline: source.timeline(r).map_err(|e| format!("{e:#}")),
            })
        })
        .collect()
}

/// Picks the [`WORST`] ok scenarios by lowest STOI and gets their media from `source`.
/// Failures to get one become its note.
pub fn prepare(results: &[ScenarioResult], report_dir: &Path, source: &dyn MediaSource) -> Vec<CallMedia> {
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
            if let Err(e) = source.media(r, &format!("{DIR}/{}-", k + 1), report_dir, &mut m) {
                m.note = Some(format!("{e:#}"));
            }
            m
        })
        .collect()
}
