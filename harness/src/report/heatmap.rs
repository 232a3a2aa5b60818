//! Section 2: profile × preset heatmaps (mean over clips and seeds) of STOI, ESTOI, the
//! mouth-to-ear p95 and, for live calls, voice-to-voice latency, each cell coloured on a fixed
//! green → red scale with its value printed.

use std::fmt::Write;

use jitterbug_core::results::{ScenarioResult, Status};

use super::{distinct, esc, worst_max, worst_min};

/// One heatmap: what it shows and its fixed colour range.
struct Metric {
    title: &'static str,
    /// Value at the green end and at the red end (either order).
    good: f64,
    bad: f64,
    decimals: usize,
    unit: &'static str,
    value: fn(&ScenarioResult) -> Option<f64>,
}

const METRICS: [Metric; 4] = [
    Metric {
        title: "STOI (worst direction)",
        good: 1.0,
        bad: 0.5,
        decimals: 3,
        unit: "",
        value: |r| worst_min(r, |d| d.stoi),
    },
    Metric {
        title: "ESTOI (worst direction)",
        good: 1.0,
        bad: 0.5,
        decimals: 3,
        unit: "",
        value: |r| worst_min(r, |d| d.estoi),
    },
    Metric {
        title: "Mouth-to-ear p95, ms (max of up/down)",
        good: 0.0,
        bad: 600.0,
        decimals: 0,
        unit: " ms",
        value: |r| worst_max(r, |d| d.mouth_to_ear_p95_ms),
    },
    Metric {
        title: "Voice-to-voice, ms (live calls: user's last word → agent's first word heard)",
        good: 600.0,
        bad: 1500.0,
        decimals: 0,
        unit: " ms",
        value: |r| r.live.as_ref()?.voice_to_voice_median_ms,
    },
];

pub(super) fn render(out: &mut String, results: &[ScenarioResult]) {
    out.push_str("<h2 id=\"heatmaps\">Profiles × presets</h2>\n");
    let profiles = distinct(results.iter().map(|r| r.profile.as_str()));
    let presets = distinct(results.iter().map(|r| r.preset.as_str()));
    if profiles.is_empty() {
        out.push_str("<p class=\"muted\">No scenarios.</p>\n");
        return;
    }
    out.push_str("<div class=\"heatmaps\">\n");
    // Voice-to-voice exists only for live calls: no table of empty cells for a simulation.
    let any_live = results.iter().any(|r| r.live.is_some());
    for m in METRICS.iter().filter(|m| any_live || !m.title.starts_with("Voice-to-voice")) {
        let _ = write!(
            out,
            "<table class=\"heat\">\n<caption>{}. Mean over clips and seeds of scenarios with status ok; \
            colour scale {} (green) → {} (red){}.</caption>\n<tr><th class=\"l\">profile \\ preset</th>",
            esc(m.title),
            fmt(m.good, m.decimals),
            fmt(m.bad, m.decimals),
            m.unit
        );
        for p in &presets {
            let _ = write!(out, "<th>{}</th>", esc(p));
        }
        out.push_str("</tr>\n");
        for prof in &profiles {
            let _ = write!(out, "<tr><th class=\"l\">{}</th>", esc(prof));
            for pre in &presets {
                let cell = results.iter().filter(|r| r.profile == *prof && r.preset == *pre);
                let (n_all, vals) = cell.fold((0usize, Vec::new()), |(n, mut v), r| {
                    if r.status == Status::Ok {
                        v.extend((m.value)(r));
                    }
                    (n + 1, v)
                });
                let key = esc(&format!("{prof}|{pre}"));
                if vals.is_empty() {
                    let why = if n_all == 0 { "not run" } else { "no result" };
                    let _ = write!(out, "<td class=\"na\" data-cell=\"{key}\">{why}</td>");
                } else {
                    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                    let t = ((mean - m.good) / (m.bad - m.good)).clamp(0.0, 1.0);
                    let _ = write!(
                        out,
                        "<td class=\"c\" data-cell=\"{key}\" style=\"background:{}\" title=\"n={}\">{}</td>",
                        colour(t),
                        vals.len(),
                        fmt(mean, m.decimals)
                    );
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n");
}

fn fmt(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// Green (t = 0) → yellow → red (t = 1), light enough for black text.
pub(super) fn colour(t: f64) -> String {
    let hue = 120.0 * (1.0 - t.clamp(0.0, 1.0));
    format!("hsl({hue:.0},70%,72%)")
}
