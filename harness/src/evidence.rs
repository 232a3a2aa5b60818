//! The report's worst calls, from whoever ran them: a simulated scenario is re-simulated from
//! its id with the run's own catalogs (deterministic by seed, and checked against the result
//! the run recorded); a real-time call links the evidence its run kept beside the results.

use std::path::{Path, PathBuf};

use jitterbug_core::identity::{BackendKind, Client};
use jitterbug_core::jitter_buffer::JbPoint;
use jitterbug_core::results::ScenarioResult;

use crate::artifacts::call_dir;
use crate::catalog::{Presets, Profiles};
use crate::report::{CallMedia, MediaSource};
use crate::scenario::Scenario;
use crate::sim::{self, encode_cache::EncodeCache};

pub struct Evidence<'a> {
    pub profiles: &'a Profiles,
    pub presets: &'a Presets,
    /// The directory `results.json` is in.
    pub results_dir: &'a Path,
}

impl MediaSource for Evidence<'_> {
    fn media(&self, r: &ScenarioResult, prefix: &str, report_dir: &Path, m: &mut CallMedia) -> anyhow::Result<()> {
        match r.backend {
            BackendKind::Sim => self.resimulate(r, prefix, report_dir, m),
            BackendKind::SimFullStack => {
                anyhow::bail!(
                    "full-stack scenarios are not re-simulated for the report (run `jitterbug sim --full-stack`)"
                )
            }
            BackendKind::Live | BackendKind::Netns => self.link(r, report_dir, m),
        }
    }

    fn timeline(&self, r: &ScenarioResult) -> anyhow::Result<Vec<JbPoint>> {
        match r.backend {
            BackendKind::Sim => Ok(self.rerun(r)?.downlink_timeline),
            BackendKind::SimFullStack => anyhow::bail!("full-stack scenarios are not re-simulated for the report"),
            BackendKind::Live | BackendKind::Netns => {
                anyhow::bail!(
                    "a real-time call cannot be re-run; `jitterbug replay` its capture.pcap for the buffer over time"
                )
            }
        }
    }
}

impl Evidence<'_> {
    /// `r` simulated again with the run's catalogs, checked to give the result it recorded.
    fn rerun(&self, r: &ScenarioResult) -> anyhow::Result<sim::SimOutput> {
        let profile = self.profiles.get(&r.profile)?;
        let preset = self.presets.get(&r.preset)?;
        let clip = crate::clips::load(&r.clip)?;
        let s = Scenario {
            profile: &profile,
            preset: &preset,
            clip: &clip,
            seed: r.seed,
            client: Client::Native,
            call_seconds: r.call_s,
        };
        let o = sim::run(&s, &EncodeCache::default());
        anyhow::ensure!(
            o.result == *r,
            "re-simulating gave a different result than the run recorded (other profile or preset files?)"
        );
        Ok(o)
    }

    fn resimulate(&self, r: &ScenarioResult, prefix: &str, report_dir: &Path, m: &mut CallMedia) -> anyhow::Result<()> {
        let o = self.rerun(r)?;
        let clip = crate::clips::load(&r.clip)?;
        let parent = report_dir.join(prefix).parent().map(Path::to_path_buf).unwrap_or_else(|| report_dir.into());
        std::fs::create_dir_all(&parent)?;
        let name = |what: &str| format!("{prefix}{what}");
        crate::wav::write_i16(&report_dir.join(name("reference.wav")), &clip.as_call(r.call_s).pcm, 48_000)?;
        crate::wav::write_i16(&report_dir.join(name("degraded.wav")), &o.downlink_audio, 48_000)?;
        crate::pcap::write(&report_dir.join(name("capture.pcap")), &o.capture, crate::pcap::EPOCH)?;
        m.reference = Some(name("reference.wav"));
        m.degraded = Some(name("degraded.wav"));
        m.capture = Some(name("capture.pcap"));
        m.timeline = o.downlink_timeline;
        Ok(())
    }

    fn link(&self, r: &ScenarioResult, report_dir: &Path, m: &mut CallMedia) -> anyhow::Result<()> {
        let dir = call_dir(self.results_dir, r);
        anyhow::ensure!(dir.is_dir(), "no call directory {} beside the results", dir.display());
        let rel = |f: &str| -> Option<String> {
            let p = dir.join(f);
            p.is_file().then(|| relative(report_dir, &p))
        };
        m.degraded = rel("degraded.wav").or_else(|| rel("browser-heard.wav"));
        m.capture = rel("capture.pcap");
        m.note = Some("live call: the agent's answer is the reference; degraded.wav is what the user heard".into());
        Ok(())
    }
}

/// `path` relative to `from` when it lies below it, else absolute.
fn relative(from: &Path, path: &Path) -> String {
    let from: PathBuf = from.canonicalize().unwrap_or_else(|_| from.to_path_buf());
    let path: PathBuf = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&from).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}
