//! Two recordings scored against each other: STOI/ESTOI and the delay of a degraded file
//! against its reference (`jitterbug score`).

use std::path::Path;

use anyhow::{Context, ensure};
use jitterbug_core::metrics::{delay, stoi};
use serde::Serialize;

use crate::wav;

/// Longest delay searched when aligning.
const MAX_DELAY_S: f64 = 5.0;

/// What `score` prints (keys are a public JSON interface).
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub stoi: f64,
    pub estoi: f64,
    /// Delay of the degraded file relative to the reference (positive: degraded is later).
    pub delay_samples: i64,
    pub delay_ms: f64,
    pub sample_rate: u32,
    pub aligned: bool,
}

pub fn files(reference: &Path, degraded: &Path, align: bool) -> anyhow::Result<Score> {
    let r = wav::read(reference)?;
    let d = wav::read(degraded)?;
    ensure!(
        r.sample_rate == d.sample_rate,
        "{} is {} Hz but {} is {} Hz: resample one of them first",
        reference.display(),
        r.sample_rate,
        degraded.display(),
        d.sample_rate
    );
    let est = delay::estimate_delay(&r.samples, &d.samples, r.sample_rate, MAX_DELAY_S)
        .with_context(|| format!("estimating the delay of {}", degraded.display()))?;
    let (a, b) = if align {
        delay::align(&r.samples, &d.samples, est.samples)
    } else {
        // As pystoi: score the pair as given, truncated to the shorter.
        let n = r.samples.len().min(d.samples.len());
        (r.samples[..n].to_vec(), d.samples[..n].to_vec())
    };
    let scorer = stoi::Stoi::new(r.sample_rate)?;
    let s = scorer.scores(&a, &b).context("scoring")?;
    Ok(Score {
        stoi: s.stoi,
        estoi: s.estoi,
        delay_samples: est.samples,
        delay_ms: est.ms,
        sample_rate: r.sample_rate,
        aligned: align,
    })
}
