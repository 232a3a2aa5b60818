//! Section 3: the distribution of mouth-to-ear delay per profile, as empirical CDFs in one
//! inline SVG chart (axes with ticks and labels, a legend).

use std::fmt::Write;

use jitterbug_core::results::{ScenarioResult, Status};

use super::{distinct, esc, worst_max};

/// Line colours (Tableau 10); past ten profiles the lines are dashed too.
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#79706e"];
const DASHES: [&str; 3] = ["", " stroke-dasharray=\"7 3\"", " stroke-dasharray=\"2 2\""];

const W: f64 = 760.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;
const LEGEND_ROW: f64 = 16.0;
/// Profiles per chart; more go to further charts.
const PER_CHART: usize = 8;
/// Colour of the `clean` reference line on later charts.
const REFERENCE: &str = "#a0a0a0";

pub(super) fn render(out: &mut String, results: &[ScenarioResult]) {
    out.push_str("<h2 id=\"latency\">Latency distribution</h2>\n");
    let series: Vec<(&str, Vec<f64>)> = distinct(results.iter().map(|r| r.profile.as_str()))
        .into_iter()
        .map(|p| {
            let mut v: Vec<f64> = results
                .iter()
                .filter(|r| r.profile == p && r.status == Status::Ok)
                .filter_map(|r| worst_max(r, |d| d.mouth_to_ear_ms))
                .collect();
            v.sort_by(f64::total_cmp);
            (p, v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if series.is_empty() {
        out.push_str("<p class=\"muted\">No mouth-to-ear measurements.</p>\n");
        return;
    }
    // Charts of at most PER_CHART profiles on one shared x axis, so they compare; the `clean`
    // profile (when run) is repeated in grey on every other chart as the reference.
    let max = series.iter().flat_map(|(_, v)| v.last()).copied().fold(0.0, f64::max);
    let (step, xmax) = axis(max);
    let reference = series.iter().find(|(n, _)| *n == "clean");
    for chunk in series.chunks(PER_CHART) {
        let reference = reference.filter(|_| !chunk.iter().any(|(n, _)| *n == "clean"));
        out.push_str(&svg(chunk, reference, step, xmax));
    }
    out.push_str(
        "<p class=\"muted\">Empirical CDF per profile of the mouth-to-ear delay (median over the call, the larger of \
         uplink and downlink) over the profile's scenarios with status ok (all presets, clips and seeds); n is the \
         number of scenarios. Lines further right mean more delay; all charts share one x axis, and the clean \
         profile is repeated in grey on charts without it, for reference.</p>\n",
    );
}

/// The chart for (name, sorted values) series.
fn svg(series: &[(&str, Vec<f64>)], reference: Option<&(&str, Vec<f64>)>, step: f64, xmax: f64) -> String {
    let plot_h = 220.0f64.max((series.len() + 1) as f64 * LEGEND_ROW + 10.0);
    let h = TOP + plot_h + BOTTOM;
    let plot_w = W - LEFT - RIGHT;
    let x = |v: f64| LEFT + v / xmax * plot_w;
    let y = |p: f64| TOP + (1.0 - p) * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\" \
         aria-label=\"Mouth-to-ear delay CDF per profile\">"
    );
    // Grid, ticks and tick labels.
    for i in 0..=(xmax / step).round() as usize {
        let t = i as f64 * step;
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\"/><line class=\"axis\" x1=\"{0:.1}\" \
             y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\"/><text x=\"{0:.1}\" y=\"{3:.1}\" text-anchor=\"middle\">{4}</text>",
            x(t),
            y(0.0),
            y(0.0) + 4.0,
            y(0.0) + 16.0,
            (t * 1000.0).round() / 1000.0
        );
    }
    for i in 0..=4 {
        let p = i as f64 / 4.0;
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/><line class=\"axis\" x1=\"{2:.1}\" \
             y1=\"{0:.1}\" x2=\"{LEFT}\" y2=\"{0:.1}\"/><text x=\"{3:.1}\" y=\"{4:.1}\" text-anchor=\"end\">{p:.2}</text>",
            y(p),
            x(xmax),
            LEFT - 4.0,
            LEFT - 7.0,
            y(p) + 4.0
        );
    }
    let _ = writeln!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/><line class=\"axis\" x1=\"{LEFT}\" \
         y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0:.1}\"/>\
         <text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"middle\">mouth-to-ear delay (ms)</text>\
         <text transform=\"translate(14 {4:.1}) rotate(-90)\" text-anchor=\"middle\">fraction of scenarios ≤ x</text>",
        y(0.0),
        x(xmax),
        LEFT + plot_w / 2.0,
        h - 8.0,
        TOP + plot_h / 2.0
    );
    // One step line per profile, and its legend entry.
    let lines = series.iter().map(|s| (s, None)).chain(reference.map(|r| (r, Some(REFERENCE))));
    for (i, ((name, v), grey)) in lines.enumerate() {
        let colour = grey.unwrap_or(PALETTE[i % PALETTE.len()]);
        let dash = DASHES[(i / PALETTE.len()) % DASHES.len()];
        let n = v.len() as f64;
        let mut d = format!("M{:.1} {:.1}", x(v[0]), y(0.0));
        for (k, val) in v.iter().enumerate() {
            let _ = write!(d, "H{:.1}V{:.1}", x(*val), y((k + 1) as f64 / n));
        }
        let _ = write!(d, "H{:.1}", x(xmax));
        let _ = writeln!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}><title>{}</title></path>",
            esc(name)
        );
        let ly = TOP + 8.0 + i as f64 * LEGEND_ROW;
        let lx = W - RIGHT + 14.0;
        let _ = writeln!(
            s,
            "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} (n={})</text>",
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            esc(name),
            v.len()
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A round tick step and the axis end (a multiple of it) covering `max` with 4–10 ticks.
pub(super) fn axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    (step, (max / step).ceil().max(1.0) * step)
}
