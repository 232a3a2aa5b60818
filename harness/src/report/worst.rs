//! Section: the worst calls — audio players, capture links, and the user's jitter buffer over
//! the worst one (target delay, buffered audio, concealment).

use std::fmt::Write;

use super::esc;
use super::media::CallMedia;

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
        out.push_str(&super::timeline::svg(&m.timeline));
        out.push_str(
            "<p class=\"muted\">The user's (downlink) jitter buffer, re-simulated from the scenario's seed: the delay \
             it steers towards (target), the audio it holds (NetEq's filtered level), and the share of each \
             100 ms that was concealed or time-stretched (bars, right axis).</p>\n",
        );
    }
}
