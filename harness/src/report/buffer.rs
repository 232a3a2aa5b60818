//! Section: the user's jitter buffer per profile, over the call that profile treated worst
//! (lowest downlink STOI): target, filtered level, concealment and time-stretching over time,
//! so a reader sees why a preset lost — a fixed buffer below the jitter conceals, an adaptive
//! one that chases spikes stretches.

use std::fmt::Write;

use super::esc;
use super::media::ProfileTimeline;

pub(super) fn render(out: &mut String, timelines: &[ProfileTimeline]) {
    if timelines.is_empty() {
        return;
    }
    out.push_str(
        "<h2 id=\"buffer\">Jitter buffer per profile</h2>\n<p class=\"muted\">For each profile, the call with the \
         lowest downlink STOI: the user's buffer re-simulated from the scenario's seed. Target delay and NetEq's \
         filtered level (lines, ms), and the share of each 100 ms concealed or time-stretched (bars, right \
         axis). Open a profile to see its plot.</p>\n",
    );
    for t in timelines {
        let _ = writeln!(
            out,
            "<details><summary>{} — {} (downlink STOI {:.3}, concealed {:.1} %, stretched {:.2} %)</summary>",
            esc(&t.profile),
            esc(&t.id),
            t.stoi,
            t.concealed_share * 100.0,
            t.stretched_share * 100.0
        );
        match &t.timeline {
            Ok(points) => out.push_str(&super::timeline::svg(points)),
            Err(why) => {
                let _ = writeln!(out, "<p class=\"muted\">No timeline: {}</p>", esc(why));
            }
        }
        out.push_str("</details>\n");
    }
}
