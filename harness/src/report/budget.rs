//! Section: the latency budget of design report table 5 (docs/design-report.md) as measured in live calls — one stacked bar
//! per profile, from the user's last word to the agent's first word heard, next to the
//! budget's ranges.

use std::fmt::Write;

use jitterbug_core::results::{ScenarioResult, Status};

use super::{distinct, esc};

/// A stage: its name, its colour, and design report table 5's target range (ms) where it gives one.
type Stage = (&'static str, &'static str, Option<(f64, f64)>);

/// Stages in the order a turn passes them.
const STAGES: [Stage; 8] = [
    ("transport up", "#4e79a7", Some((50.0, 120.0))),
    ("buffer + decode up", "#a0cbe8", None),
    ("end of turn (hangover)", "#bab0ac", None),
    ("ASR", "#f28e2b", Some((100.0, 250.0))),
    ("agent", "#e15759", Some((100.0, 300.0))),
    ("TTS first audio", "#76b7b2", Some((80.0, 200.0))),
    ("transport down", "#59a14f", None),
    ("buffer + playout down", "#8cd17d", None),
];
/// Design report table 5: transport down + playout together, and the total.
const DOWN_AND_PLAYOUT: (f64, f64) = (50.0, 120.0);
const TOTAL: (f64, f64) = (410.0, 1050.0);

/// Mean stage durations (ms) of a profile's ok live calls, and the measured voice-to-voice.
fn stages(results: &[&ScenarioResult]) -> Option<([f64; 8], f64, usize)> {
    let mut sum = [0.0; 8];
    let mut v2v = 0.0;
    let mut n = 0;
    for r in results {
        let (Some(l), Some(up), Some(down)) = (&r.live, &r.uplink, &r.downlink) else { continue };
        let (Some(st), Some(tu), Some(td), Some(v)) =
            (l.stages_ms, l.transit_uplink_ms, l.transit_downlink_ms, l.voice_to_voice_median_ms)
        else {
            continue;
        };
        let parts = [
            tu.p50,
            (up.mouth_to_ear_ms - tu.p50).max(0.0),
            st.end_of_turn,
            st.asr,
            st.agent,
            st.tts_first_audio,
            td.p50,
            (down.mouth_to_ear_ms - td.p50).max(0.0),
        ];
        for (s, p) in sum.iter_mut().zip(parts) {
            *s += p;
        }
        v2v += v;
        n += 1;
    }
    (n > 0).then(|| (sum.map(|s| s / n as f64), v2v / n as f64, n))
}

pub(super) fn render(out: &mut String, results: &[ScenarioResult]) {
    let live: Vec<&ScenarioResult> = results.iter().filter(|r| r.live.is_some() && r.status == Status::Ok).collect();
    if live.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"budget\">Latency budget (live calls)</h2>\n");
    let rows: Vec<(&str, [f64; 8], f64, usize)> = distinct(live.iter().map(|r| r.profile.as_str()))
        .into_iter()
        .filter_map(|p| {
            let of: Vec<&ScenarioResult> = live.iter().copied().filter(|r| r.profile == p).collect();
            stages(&of).map(|(s, v, n)| (p, s, v, n))
        })
        .collect();
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">No live call with stage timings.</p>\n");
        return;
    }
    let max = rows.iter().map(|(_, s, v, _)| s.iter().sum::<f64>().max(*v)).fold(TOTAL.1, f64::max);
    let (w, left, bar_h, gap) = (760.0, 150.0, 18.0, 8.0);
    let scale = (w - left - 20.0) / max;
    let h = 30.0 + rows.len() as f64 * (bar_h + gap) + 60.0;
    let _ = writeln!(
        out,
        "<svg viewBox=\"0 0 {w} {h:.0}\" width=\"{w}\" height=\"{h:.0}\" role=\"img\" aria-label=\"latency budget\">"
    );
    // Table 5's total range as a band behind the bars.
    let _ = writeln!(
        out,
        "<rect x=\"{:.1}\" y=\"10\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f6f8fa\"/><text x=\"{:.1}\" y=\"22\">table 5 total {}–{} ms</text>",
        left + TOTAL.0 * scale,
        (TOTAL.1 - TOTAL.0) * scale,
        h - 60.0,
        left + TOTAL.0 * scale + 4.0,
        TOTAL.0,
        TOTAL.1
    );
    for (i, (profile, s, v2v, n)) in rows.iter().enumerate() {
        let y = 30.0 + i as f64 * (bar_h + gap);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} (n={n})</text>",
            left - 6.0,
            y + bar_h - 5.0,
            esc(profile)
        );
        let mut x = left;
        for (k, ms) in s.iter().enumerate() {
            let width = ms * scale;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{}: {ms:.0} ms</title></rect>",
                STAGES[k].1, STAGES[k].0
            );
            x += width;
        }
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"#000\" stroke-width=\"2\"><title>measured voice-to-voice {v2v:.0} ms</title></line>",
            left + v2v * scale,
            y - 2.0,
            y + bar_h + 2.0
        );
    }
    let ly = h - 40.0;
    for (k, (name, colour, _)) in STAGES.iter().enumerate() {
        let (col, row) = (k % 4, k / 4);
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            left + col as f64 * 150.0,
            ly + row as f64 * 16.0,
            left + col as f64 * 150.0 + 14.0,
            ly + row as f64 * 16.0 + 9.0
        );
    }
    out.push_str("</svg>\n");
    // The numbers, against table 5's ranges.
    out.push_str("<table>\n<tr><th class=\"l\">profile</th>");
    for (name, _, range) in STAGES {
        let r = range.map_or(String::new(), |(a, b)| format!("<br><span class=\"muted\">{a:.0}–{b:.0}</span>"));
        let _ = write!(out, "<th>{name}{r}</th>");
    }
    let _ = writeln!(
        out,
        "<th>sum<br><span class=\"muted\">{:.0}–{:.0}</span></th><th>voice-to-voice</th></tr>",
        TOTAL.0, TOTAL.1
    );
    for (profile, s, v2v, _) in &rows {
        let _ = write!(out, "<tr><td class=\"l\">{}</td>", esc(profile));
        for (k, ms) in s.iter().enumerate() {
            let over = STAGES[k].2.is_some_and(|(_, hi)| *ms > hi);
            let _ = write!(out, "<td{}>{ms:.0}</td>", if over { " class=\"fail\"" } else { "" });
        }
        let sum: f64 = s.iter().sum();
        let _ = writeln!(out, "<td>{sum:.0}</td><td>{v2v:.0}</td></tr>");
    }
    let _ = writeln!(
        out,
        "</table>\n<p class=\"muted\">Means over each profile's live calls, ms. Transport is the RTP one-way transit \
         measured per packet (median); buffer + decode is mouth-to-ear minus transit; end of turn, ASR, agent and \
         TTS are the agent's own timestamps (its stages take their configured budgets; design report table 5 ranges under \
         the names, a red number is over the range). The black mark is the measured voice-to-voice latency (the \
         user's last speech sample sent → the agent's first speech sample heard), which the stages should add up \
         to. Design report table 5 gives transport down + playout together as {:.0}–{:.0} ms; capture and browser DSP \
         (30–60 ms) happen only in browser runs.</p>",
        DOWN_AND_PLAYOUT.0, DOWN_AND_PLAYOUT.1
    );
}
