//! Section 1: how many scenarios ran, and the golden gate's verdict.

use std::fmt::Write;

use jitterbug_core::baseline::{Row, Verdict};
use jitterbug_core::results::{ScenarioResult, Status};

use super::esc;
use crate::gate::{Gate, Outcome};

/// At most this many regressions and missing rows are listed (the rest are counted).
const MAX_ROWS: usize = 50;

pub(super) fn render(out: &mut String, results: &[ScenarioResult], gate: Option<&Gate>) {
    let ok = results.iter().filter(|r| r.status == Status::Ok).count();
    let unsupported = results.iter().filter(|r| matches!(r.status, Status::Unsupported { .. })).count();
    let error = results.iter().filter(|r| matches!(r.status, Status::Error { .. })).count();
    let _ = write!(
        out,
        "<h2 id=\"summary\">Summary</h2>\n<table class=\"counts\"><tr><th>scenarios</th><th>ok</th>\
         <th>unsupported</th><th>error</th></tr>\n<tr><td>{}</td><td class=\"pass\">{ok}</td>\
         <td class=\"muted\">{unsupported}</td><td class=\"{}\">{error}</td></tr></table>\n",
        results.len(),
        if error > 0 { "fail" } else { "muted" },
    );
    // Reasons of scenarios that did not run, grouped (a reason is usually shared by many).
    let mut reasons: Vec<(&str, &str, usize)> = Vec::new();
    for r in results {
        let (kind, reason) = match &r.status {
            Status::Ok => continue,
            Status::Unsupported { reason } => ("unsupported", reason.as_str()),
            Status::Error { reason } => ("error", reason.as_str()),
            Status::Invalid { reason } => ("invalid", reason.as_str()),
        };
        match reasons.iter_mut().find(|(k, s, _)| *k == kind && *s == reason) {
            Some(e) => e.2 += 1,
            None => reasons.push((kind, reason, 1)),
        }
    }
    if !reasons.is_empty() {
        out.push_str("<table><tr><th class=\"l\">status</th><th class=\"l\">reason</th><th>scenarios</th></tr>\n");
        for (kind, reason, n) in reasons.iter().take(MAX_ROWS) {
            let _ =
                writeln!(out, "<tr><td class=\"l\">{kind}</td><td class=\"l\">{}</td><td>{n}</td></tr>", esc(reason));
        }
        out.push_str("</table>\n");
    }

    out.push_str("<h3>Golden gate</h3>\n");
    let Some(gate) = gate else {
        out.push_str("<p><span class=\"badge none\">not gated</span> <span class=\"muted\">no golden baseline was given.</span></p>\n");
        return;
    };
    let (class, word) = match gate.outcome() {
        Outcome::Pass => ("pass", "PASS"),
        Outcome::Regressed => ("fail", "FAIL — regressed"),
        Outcome::Incomplete => ("fail", "FAIL — incomplete (blessed scenarios missing)"),
    };
    if let Some(why) = gate.rebless() {
        let _ = writeln!(out, "<p><span class=\"badge {class}\">{word}</span> {}</p>", esc(&why));
        return;
    }
    let rows = || gate.comparisons.iter().flat_map(|(b, c)| c.rows.iter().map(move |r| (b.as_str(), r)));
    let count = |f: fn(&Verdict) -> bool| rows().filter(|(_, r)| f(&r.verdict)).count();
    let _ = writeln!(
        out,
        "<p><span class=\"badge {class}\">{word}</span> {} checks: {} pass, {} regressed, {} status changed, \
         {} missing; {} new (not in the baseline{}).</p>",
        rows().filter(|(_, r)| r.verdict != Verdict::New).count(),
        count(|v| *v == Verdict::Pass),
        count(|v| matches!(v, Verdict::Regressed { .. })),
        count(|v| matches!(v, Verdict::StatusChanged { .. })),
        count(|v| *v == Verdict::Missing),
        count(|v| *v == Verdict::New),
        if gate.strict { ", failed: strict" } else { ", not failed" },
    );

    // Regressions, worst first: status changes, then by distance over tolerance.
    let mut bad: Vec<(&str, &Row)> = rows()
        .filter(|(_, r)| matches!(r.verdict, Verdict::Regressed { .. } | Verdict::StatusChanged { .. }))
        .collect();
    bad.sort_by(|a, b| severity(&b.1.verdict).total_cmp(&severity(&a.1.verdict)));
    if !bad.is_empty() {
        out.push_str(
            "<table class=\"regressions\"><tr><th class=\"l\">backend</th><th class=\"l\">scenario</th>\
             <th class=\"l\">metric</th><th>baseline</th><th>actual</th><th>tolerance</th><th>× tolerance</th></tr>\n",
        );
        for (backend, r) in bad.iter().take(MAX_ROWS) {
            let (e, a, t, x) = match &r.verdict {
                Verdict::Regressed { expected, actual, tolerance } => (
                    format!("{expected:.4}"),
                    format!("{actual:.4}"),
                    format!("{tolerance}"),
                    format!("{:.1}", severity(&r.verdict)),
                ),
                Verdict::StatusChanged { expected, actual } => {
                    (esc(expected), esc(actual), "status".into(), "∞".into())
                }
                _ => unreachable!("filtered above"),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{e}</td>\
                 <td class=\"fail\">{a}</td><td>{t}</td><td>{x}</td></tr>",
                esc(backend),
                esc(&r.scenario),
                esc(&r.metric),
            );
        }
        out.push_str("</table>\n");
        if bad.len() > MAX_ROWS {
            let _ = writeln!(out, "<p class=\"muted\">{} more regressions not shown.</p>", bad.len() - MAX_ROWS);
        }
    }

    let missing: Vec<(&str, &Row)> = rows().filter(|(_, r)| r.verdict == Verdict::Missing).collect();
    if !missing.is_empty() {
        out.push_str("<table class=\"missing\"><tr><th class=\"l\">backend</th><th class=\"l\">missing scenario</th><th class=\"l\">metric</th></tr>\n");
        for (backend, r) in missing.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l fail\">{}</td><td class=\"l\">{}</td></tr>",
                esc(backend),
                esc(&r.scenario),
                esc(&r.metric)
            );
        }
        out.push_str("</table>\n");
        if missing.len() > MAX_ROWS {
            let _ = writeln!(out, "<p class=\"muted\">{} more missing rows not shown.</p>", missing.len() - MAX_ROWS);
        }
    }
}

/// How far outside its tolerance a row is (status changes are worst).
fn severity(v: &Verdict) -> f64 {
    match v {
        Verdict::Regressed { expected, actual, tolerance } => (actual - expected).abs() / tolerance.max(1e-12),
        _ => f64::INFINITY,
    }
}
