//! A jitter buffer over one call as an SVG: the target delay and the filtered level (left axis,
//! ms), and per 100 ms the share of samples concealed and time-stretched (bars, right axis).

use std::fmt::Write;

use jitterbug_core::jitter_buffer::{JbPoint, TIMELINE_STEP_MS};

const W: f64 = 760.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 60.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

/// Which share of a point a bar shows.
type Share = fn(&JbPoint) -> f64;

pub(super) fn svg(points: &[JbPoint]) -> String {
    let t_max = points.last().map_or(1, |p| p.t_ms).max(1) as f64;
    let y_max = points.iter().map(|p| p.target_ms.max(p.level_ms)).fold(50.0, f64::max);
    let y_top = (y_max / 50.0).ceil() * 50.0;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: f64| LEFT + t / t_max * pw;
    let y = |v: f64| TOP + ph - v / y_top * ph;
    let mut s = format!(
        "<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"jitter buffer over time\">\n"
    );
    // Concealment and time-stretching bars against the right axis (0–100 %).
    let bar_w = (TIMELINE_STEP_MS as f64 / t_max * pw).max(1.0);
    let bars: [(Share, &str); 2] = [(|p| p.concealed, "#e15759"), (|p| p.stretched, "#f28e2b")];
    for (share, colour) in bars {
        for p in points.iter().filter(|p| share(p) > 0.0) {
            let h = share(p).min(1.0) * ph;
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{colour}\" fill-opacity=\"0.55\"/>",
                x(p.t_ms as f64) - bar_w,
                TOP + ph - h
            );
        }
    }
    for k in 0..=4 {
        let v = y_top * f64::from(k) / 4.0;
        let _ = writeln!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}%</text>",
            LEFT + pw,
            y(v),
            y(v),
            LEFT - 4.0,
            y(v) + 4.0,
            LEFT + pw + 4.0,
            y(v) + 4.0,
            k * 25
        );
    }
    let seconds = (t_max / 1000.0).ceil() as u64;
    let step = if seconds > 40 { 10 } else { 5 };
    for t in (0..=seconds).step_by(step) {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t}</text>",
            x(t as f64 * 1000.0),
            TOP + ph + 14.0
        );
    }
    let line = |f: fn(&JbPoint) -> f64| -> String {
        // Whole pixels, and only the points where the line bends: a flat target is two points.
        let px: Vec<(i64, i64)> =
            points.iter().map(|p| (x(p.t_ms as f64).round() as i64, y(f(p)).round() as i64)).collect();
        px.iter()
            .enumerate()
            .filter(|&(i, &(_, v))| i == 0 || i + 1 == px.len() || px[i - 1].1 != v || px[i + 1].1 != v)
            .map(|(_, (a, b))| format!("{a},{b}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"1.6\" points=\"{}\"/>\n\
         <polyline fill=\"none\" stroke=\"#59a14f\" stroke-width=\"1\" points=\"{}\"/>",
        line(|p| p.target_ms),
        line(|p| p.level_ms)
    );
    let _ = writeln!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">call time (s)</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">delay (ms)</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#4e79a7\">— target</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#59a14f\">— level</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#e15759\">▮ concealed</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#f28e2b\">▮ stretched</text>\n</svg>",
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph,
        LEFT + pw / 2.0,
        H - 6.0,
        TOP + ph / 2.0,
        LEFT + 8.0,
        TOP + 12.0,
        LEFT + 80.0,
        TOP + 12.0,
        LEFT + 150.0,
        TOP + 12.0,
        LEFT + 240.0,
        TOP + 12.0
    );
    s
}
