//! `report.html`: one self-contained HTML page (inline CSS and SVG, no scripts, no network
//! resources) summarising a run: status counts and the golden gate, heatmaps of intelligibility
//! and delay per profile × preset, mouth-to-ear CDFs per profile, a KPI table per scenario with
//! pass/fail thresholds, and the run's environment.

mod budget;
mod buffer;
mod cdf;
mod compat;
mod env;
mod heatmap;
mod kpi;
pub mod media;
mod summary;
mod timeline;
mod worst;

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use jitterbug_core::results::{DirectionResult, ScenarioResult};

use crate::gate::Gate;
pub use media::{CallMedia, MediaSource};

/// The stylesheet, embedded so the page needs nothing else.
const CSS: &str = include_str!("../../../reports/templates/report.css");

/// Renders the whole report. `run` is `run.json` when present; `gate` the comparison against
/// the golden baselines when one was made; `media` the worst calls' files ([`media::prepare`]);
/// `buffers` each profile's worst call's buffer ([`media::worst_per_profile`]).
pub fn render(
    results: &[ScenarioResult],
    run: Option<&serde_json::Value>,
    gate: Option<&Gate>,
    media: &[media::CallMedia],
    buffers: &[media::ProfileTimeline],
) -> String {
    let mut out = String::with_capacity(64 * 1024 + results.len() * 700);
    let title = match run.and_then(|r| r.get("run_id")).and_then(|v| v.as_str()) {
        Some(id) => format!("Jitterbug report — {id}"),
        None => "Jitterbug report".to_string(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    summary::render(&mut out, results, gate);
    heatmap::render(&mut out, results);
    cdf::render(&mut out, results);
    budget::render(&mut out, results);
    compat::render(&mut out, results);
    kpi::render(&mut out, results);
    worst::render(&mut out, media);
    buffer::render(&mut out, buffers);
    env::render(&mut out, run, results);
    out.push_str("</body>\n</html>\n");
    out
}

/// Renders `results` (with the `run.json` beside them, and `gate`'s verdict when given) into
/// one self-contained HTML file at `output`; the worst calls' media come from `media`.
pub fn write(
    results: &[ScenarioResult],
    results_dir: &Path,
    output: &Path,
    gate: Option<&Gate>,
    media: &dyn MediaSource,
) -> anyhow::Result<()> {
    let run: Option<serde_json::Value> =
        std::fs::read_to_string(results_dir.join("run.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let report_dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let worst = media::prepare(results, report_dir, media);
    let buffers = media::worst_per_profile(results, media);
    let html = render(results, run.as_ref(), gate, &worst, &buffers);
    std::fs::write(output, html).with_context(|| format!("writing {}", output.display()))
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The directions a scenario has results for.
fn directions(r: &ScenarioResult) -> impl Iterator<Item = &DirectionResult> {
    r.uplink.iter().chain(r.downlink.iter())
}

/// The worst (largest) finite value of `f` over both directions.
fn worst_max(r: &ScenarioResult, f: impl Fn(&DirectionResult) -> f64) -> Option<f64> {
    directions(r).map(f).filter(|v| v.is_finite()).reduce(f64::max)
}

/// The worst (smallest) finite value of `f` over both directions.
fn worst_min(r: &ScenarioResult, f: impl Fn(&DirectionResult) -> f64) -> Option<f64> {
    directions(r).map(f).filter(|v| v.is_finite()).reduce(f64::min)
}

/// Distinct values in first-seen order (profiles and presets as the run listed them).
fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
