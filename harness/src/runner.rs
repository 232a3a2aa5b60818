//! The one way from a matrix to results: expand profiles × presets × clips × seeds × callers,
//! keep this shard's slice, ask the backend what it supports, run the rest with the backend's
//! concurrency, keep real-time calls' evidence, and sort by scenario id. Each scenario is
//! independent and seeded, so the results do not depend on the order or the thread count.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use jitterbug_core::identity::Client;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{ScenarioResult, Status};

use crate::artifacts;
use crate::backend::{Backend, Concurrency};
use crate::cancel::{Cancel, Interrupted, is_interrupted};
use crate::clips::Clip;
use crate::scenario::Scenario;

/// A deterministic slice `K/N` of a matrix, for spreading a sweep over CI jobs. A scenario
/// belongs to shard `hash(key) mod N + 1` (FNV-1a): stable under adding or removing other
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
    pub fn includes(&self, key: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h % self.count == self.index - 1
    }
}

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    pub profiles: &'a [Profile],
    pub presets: &'a [Preset],
    pub clips: &'a [Clip],
    pub clients: &'a [Client],
    /// Every scenario runs once per seed.
    pub seeds: &'a [u64],
    pub call_seconds: f64,
    pub shard: Option<Shard>,
}

impl<'a> Matrix<'a> {
    /// Every scenario, grouped by clip and preset (so each encoding is reused while it is hot).
    pub fn scenarios(&self) -> Vec<Scenario<'a>> {
        let mut out = Vec::new();
        for clip in self.clips {
            for preset in self.presets {
                for profile in self.profiles {
                    for &seed in self.seeds {
                        for &client in self.clients {
                            out.push(Scenario { profile, preset, clip, seed, client, call_seconds: self.call_seconds });
                        }
                    }
                }
            }
        }
        out
    }
}

/// How a run reports and what it keeps.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    /// Where real-time calls' evidence goes (`calls/…` below it), if anywhere.
    pub evidence: Option<&'a Path>,
    pub progress: bool,
    pub cancel: &'a Cancel,
}

/// Runs `matrix` on `backend`; sorted by scenario id. Stops early only when cancelled.
pub fn run(backend: &dyn Backend, matrix: &Matrix<'_>, opts: &RunOptions<'_>) -> anyhow::Result<Vec<ScenarioResult>> {
    let scenarios: Vec<Scenario<'_>> = matrix
        .scenarios()
        .into_iter()
        .filter(|s| matrix.shard.is_none_or(|sh| sh.includes(&backend.shard_key(s))))
        .collect();
    let bar = if opts.progress { ProgressBar::new(scenarios.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios  {elapsed_precise} (eta {eta})  {msg}")
            .expect("valid template"),
    );
    let workers = match backend.concurrency() {
        Concurrency::Cores => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Concurrency::Calls(n) => n.get(),
    }
    .min(scenarios.len().max(1));
    let next = AtomicUsize::new(0);
    let done: Vec<anyhow::Result<Vec<ScenarioResult>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    while let Some(s) = scenarios.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if opts.cancel.is_cancelled() {
                            return Err(Interrupted.into());
                        }
                        bar.set_message(s.id(backend.kind()));
                        out.push(one(backend, s, opts)?);
                        bar.inc(1);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a runner thread panicked")).collect()
    });
    bar.finish_and_clear();
    let mut results = Vec::with_capacity(scenarios.len());
    for d in done {
        results.extend(d?);
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(results)
}

/// One scenario's result: unsupported, run (its evidence kept if the backend keeps it), or
/// the error that kept it from running. Only a cancellation is an `Err`.
fn one(backend: &dyn Backend, s: &Scenario<'_>, opts: &RunOptions<'_>) -> anyhow::Result<ScenarioResult> {
    let failed = |status| ScenarioResult {
        status,
        ..s.blank_result(backend.kind(), s.clip.pcm.len() as f64 / f64::from(crate::clips::RATE))
    };
    if let Err(u) = backend.supports(s) {
        return Ok(failed(Status::Unsupported { reason: u.0 }));
    }
    match backend.run(s) {
        Ok(a) => {
            if let Some(root) = opts.evidence.filter(|_| backend.keeps_evidence()) {
                let dir = artifacts::call_dir(root, &a.result);
                if let Err(e) = artifacts::write(&dir, &a) {
                    eprintln!("jitterbug: {}: evidence not kept: {e:#}", a.result.id);
                }
            }
            Ok(a.result)
        }
        Err(e) if is_interrupted(&e) => Err(e),
        Err(e) => Ok(failed(Status::Error { reason: format!("{e:#}") })),
    }
}
