//! Section: the worst calls — audio players, capture links, and the user's jitter buffer over
//! the worst one (target delay, buffered audio, concealment).

use std::fmt::Write;

use super::esc;
use super::media::CallMedia;
use jitterbug_core::jitter_buffer::{JbPoint, TIMELINE_STEP_MS};

const W: f64 = 760.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 60.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

pub(super) fn render(out: &mut String, media: &[CallMedia]) {
    out.push_str("<h2 id=\"worst\">Worst calls</h2>\n");
    if media.is_empty() {
        out.push_str("<p class=\"muted\">No scenario with status ok to listen to.</p>\n");
        return;
    }
    out.push_str(
        "<p class=\"muted\">The lowest-STOI scenarios (the worse direction). Audio and captures are files in \
         <code>report-media/</code> (or the live call's directory) beside this report; the capture opens in \
         Wireshark (decode UDP as RTP).</p>\n<table class=\"worst\">\n<tr><th class=\"l\">scenario</th><th>STOI</th>\
         <th class=\"l\">reference</th><th class=\"l\">degraded (what the user heard)</th><th class=\"l\">capture</th></tr>\n",
    );
    for m in media {
        let audio = |href: &Option<String>| match href {
            Some(h) => format!("<audio controls preload=\"none\" src=\"{}\"></audio>", esc(h)),
            None => "<span class=\"muted\">–</span>".into(),
        };
        let capture = match &m.capture {
            Some(h) => format!("<a href=\"{}\">capture.pcap</a>", esc(h)),
            None => "<span class=\"muted\">–</span>".into(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}{}</td><td>{:.3}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{capture}</td></tr>",
            esc(&m.id),
            m.note.as_ref().map(|n| format!("<br><span class=\"muted\">{}</span>", esc(n))).unwrap_or_default(),
            m.stoi,
            audio(&m.reference),
            audio(&m.degraded),
        );
    }
    out.push_str("</table>\n");
    if let Some(m) = media.iter().find(|m| !m.timeline.is_empty()) {
        let _ = writeln!(out, "<h3>Jitter buffer over the call: {}</h3>", esc(&m.id));
        out.push_str(&timeline_svg(&m.timeline));
        out.push_str(
            "<p class=\"muted\">The user's (downlink) jitter buffer, re-simulated from the scenario's seed: the delay \
             it steers towards (target), the audio it holds (level), and the share of each 100 ms that was \
             concealment (bars, right axis).</p>\n",
        );
    }
}

fn timeline_svg(points: &[JbPoint]) -> String {
    let t_max = points.last().map_or(1, |p| p.t_ms).max(1) as f64;
    let y_max = points.iter().map(|p| p.target_ms.max(p.level_ms)).fold(50.0, f64::max);
    let y_top = (y_max / 50.0).ceil() * 50.0;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: f64| LEFT + t / t_max * pw;
    let y = |v: f64| TOP + ph - v / y_top * ph;
    let mut s = format!(
        "<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"jitter buffer over time\">\n"
    );
    // Concealment bars against the right axis (0–100 %).
    let bar_w = (TIMELINE_STEP_MS as f64 / t_max * pw).max(1.0);
    for p in points.iter().filter(|p| p.concealed > 0.0) {
        let h = p.concealed.min(1.0) * ph;
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"#e15759\" fill-opacity=\"0.45\"/>",
            x(p.t_ms as f64) - bar_w,
            TOP + ph - h
        );
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
        points.iter().map(|p| format!("{:.1},{:.1}", x(p.t_ms as f64), y(f(p)))).collect::<Vec<_>>().join(" ")
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
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#e15759\">▮ concealed</text>\n</svg>",
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
        TOP + 12.0
    );
    s
}
