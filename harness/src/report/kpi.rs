//! Section 4: key indicators per scenario with pass/fail thresholds.

use std::fmt::Write;

use jitterbug_core::results::{ScenarioResult, Status};

use super::{esc, worst_max, worst_min};

/// Mouth-to-ear p95 must stay below this (ms).
pub const M2E_P95_MAX_MS: f64 = 300.0;
/// Effective loss after FEC must stay below this (fraction).
pub const EFFECTIVE_LOSS_MAX: f64 = 0.03;
/// Concealed speech must stay below this (fraction of samples played).
pub const CONCEALMENT_MAX: f64 = 0.05;
/// The E-model MOS must reach this.
pub const MOS_MIN: f64 = 3.5;
/// Design report table 10: end-to-end (voice-to-voice) latency p95 under about 800 ms.
pub const V2V_MAX_MS: f64 = 800.0;

/// A column: worst-direction value, how to print it, and its threshold check if any.
struct Col {
    head: &'static str,
    value: fn(&ScenarioResult) -> Option<f64>,
    show: fn(f64) -> String,
    pass: Option<fn(f64) -> bool>,
}

/// Columns only live calls fill (design report table 10: setup, TURN usage, disconnects, e2e latency).
fn live_cols() -> [Col; 4] {
    [
        Col { head: "setup (ms)", value: |r| r.live.as_ref()?.setup_ms, show: |v| format!("{v:.0}"), pass: None },
        Col {
            head: "voice-to-voice (ms)",
            value: |r| r.live.as_ref()?.voice_to_voice_median_ms,
            show: |v| format!("{v:.0}"),
            pass: Some(|v| v < V2V_MAX_MS),
        },
        Col {
            head: "path",
            value: |r| r.live.as_ref().map(|l| f64::from(u8::from(l.turn_used))),
            show: |v| if v > 0.0 { "TURN".into() } else { "direct".into() },
            pass: None,
        },
        Col {
            head: "disconnects",
            value: |r| r.live.as_ref().map(|l| l.disconnects as f64),
            show: |v| format!("{v:.0}"),
            pass: Some(|v| v == 0.0),
        },
    ]
}

fn cols() -> [Col; 6] {
    [
        Col {
            head: "m2e p95 (ms)",
            value: |r| worst_max(r, |d| d.mouth_to_ear_p95_ms),
            show: |v| format!("{v:.0}"),
            pass: Some(|v| v < M2E_P95_MAX_MS),
        },
        Col {
            head: "JB mean delay (ms)",
            value: |r| worst_max(r, |d| d.jitter_buffer.mean_delay_ms().unwrap_or(f64::NAN)),
            show: |v| format!("{v:.0}"),
            pass: None,
        },
        Col { head: "network loss", value: |r| worst_max(r, |d| d.network.loss_rate), show: pct, pass: None },
        Col {
            head: "effective loss",
            value: |r| worst_max(r, |d| d.effective_loss),
            show: pct,
            pass: Some(|v| v < EFFECTIVE_LOSS_MAX),
        },
        Col {
            head: "concealment",
            value: |r| worst_max(r, |d| d.concealment_ratio),
            show: pct,
            pass: Some(|v| v < CONCEALMENT_MAX),
        },
        Col {
            head: "MOS",
            value: |r| worst_min(r, |d| d.mos),
            show: |v| format!("{v:.2}"),
            pass: Some(|v| v >= MOS_MIN),
        },
    ]
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

pub(super) fn render(out: &mut String, results: &[ScenarioResult]) {
    let mut cols: Vec<Col> = cols().into_iter().collect();
    let live = results.iter().any(|r| r.live.is_some() || r.backend.is_real_time());
    if live {
        cols.extend(live_cols());
    }
    // Rows first, so the heading can say how many scenarios fail a threshold.
    let mut rows = String::with_capacity(results.len() * 360);
    let mut failing = 0;
    for r in results {
        let _ = write!(rows, "<tr><td class=\"l\">{}</td>", esc(&r.id));
        match &r.status {
            Status::Ok => {
                let mut fails = 0;
                let mut cells = String::new();
                for c in &cols {
                    match (c.value)(r) {
                        None => cells.push_str("<td class=\"muted\">–</td>"),
                        Some(v) => {
                            let class = match c.pass {
                                None => "",
                                Some(p) if p(v) => " class=\"y\"",
                                Some(_) => {
                                    fails += 1;
                                    " class=\"n\""
                                }
                            };
                            let _ = write!(cells, "<td{class}>{}</td>", (c.show)(v));
                        }
                    }
                }
                failing += usize::from(fails > 0);
                let mark = if fails == 0 {
                    "<td class=\"pass\">pass</td>".to_string()
                } else {
                    format!("<td class=\"fail\">{fails} fail</td>")
                };
                let _ = writeln!(rows, "{mark}{cells}</tr>");
            }
            Status::Unsupported { reason } | Status::Error { reason } | Status::Invalid { reason } => {
                let kind = match r.status {
                    Status::Error { .. } => "error",
                    Status::Invalid { .. } => "invalid",
                    _ => "unsupported",
                };
                let _ = writeln!(
                    rows,
                    "<td class=\"muted\">{kind}</td><td class=\"l muted\" colspan=\"{}\">{}</td></tr>",
                    cols.len(),
                    esc(reason)
                );
            }
        }
    }
    out.push_str("<h2 id=\"kpi\">KPIs per scenario</h2>\n");
    if live {
        rates(out, results);
    }
    let _ = write!(
        out,
        "<p>{failing} of {} scenarios miss at least one threshold.</p>\n\
         <table class=\"kpi\">\n<caption>Each value is the worse of uplink and downlink. Thresholds: mouth-to-ear p95 \
         &lt; {M2E_P95_MAX_MS:.0} ms (network side, before any agent think time); effective loss (frames missing at \
         playout after FEC) &lt; {:.0} %; concealment (concealed non-DTX samples over samples played) &lt; {:.0} %; \
         MOS (E-model) ≥ {MOS_MIN}. ✓ marks a pass, ✗ a fail. Jitter-buffer mean delay (jitter_buffer_delay / \
         emitted count) and network loss (packets never delivered) are shown for context, without a \
         threshold.</caption>\n<tr><th class=\"l\">scenario (profile/preset/clip/client/backend/seed)</th><th>verdict</th>",
        results.len(),
        EFFECTIVE_LOSS_MAX * 100.0,
        CONCEALMENT_MAX * 100.0,
    );
    for c in &cols {
        let _ = write!(out, "<th>{}</th>", c.head);
    }
    out.push_str("</tr>\n");
    out.push_str(&rows);
    out.push_str("</table>\n");
    if live {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Live columns: setup is offer → connected; voice-to-voice the median over the call's \
             turns (the user's last speech sample sent → the agent's first speech sample heard), threshold \
             {V2V_MAX_MS:.0} ms (design report table 10, end-to-end p95); path is the client's selected candidate (TURN relay \
             or direct); disconnects are departures from `connected` during the call (threshold 0).</p>"
        );
    }
}

/// Design report table 10's rates over the live calls: setup failures, TURN usage, disconnects.
fn rates(out: &mut String, results: &[ScenarioResult]) {
    let live: Vec<&ScenarioResult> = results.iter().filter(|r| r.backend.is_real_time()).collect();
    let attempted: Vec<&&ScenarioResult> =
        live.iter().filter(|r| !matches!(r.status, Status::Unsupported { .. })).collect();
    let connected: Vec<&&ScenarioResult> = attempted.iter().copied().filter(|r| r.live.is_some()).collect();
    let rate = |k: usize, n: usize| {
        if n == 0 { "–".to_string() } else { format!("{:.1} % ({k} of {n})", k as f64 * 100.0 / n as f64) }
    };
    let failed = attempted.len() - connected.len();
    let turn = connected.iter().filter(|r| r.live.as_ref().is_some_and(|l| l.turn_used)).count();
    let dropped = connected.iter().filter(|r| r.live.as_ref().is_some_and(|l| l.disconnects > 0)).count();
    let mut v2v: Vec<f64> = connected.iter().filter_map(|r| r.live.as_ref()?.voice_to_voice_median_ms).collect();
    v2v.sort_by(f64::total_cmp);
    let p95 = v2v.get(((v2v.len() as f64 - 1.0) * 0.95).round().max(0.0) as usize).copied();
    let _ = writeln!(
        out,
        "<table>\n<caption>Design report table 10 over the live calls of this run. Setup failure: a call attempted \
         (not unsupported here) that never connected. TURN usage: connected calls whose selected pair is relayed. \
         Disconnect: a connected call that left `connected`.</caption>\n\
         <tr><th class=\"l\">KPI</th><th>value</th><th class=\"l\">guidance</th></tr>\n\
         <tr><td class=\"l\">setup failure rate</td><td{}>{}</td><td class=\"l\">near zero</td></tr>\n\
         <tr><td class=\"l\">TURN usage rate</td><td>{}</td><td class=\"l\">as low as feasible</td></tr>\n\
         <tr><td class=\"l\">disconnect rate</td><td{}>{}</td><td class=\"l\">near zero</td></tr>\n\
         <tr><td class=\"l\">voice-to-voice p95</td><td{}>{}</td><td class=\"l\">under ~{V2V_MAX_MS:.0} ms</td></tr>\n</table>",
        if failed > 0 { " class=\"fail\"" } else { "" },
        rate(failed, attempted.len()),
        rate(turn, connected.len()),
        if dropped > 0 { " class=\"fail\"" } else { "" },
        rate(dropped, connected.len()),
        if p95.is_some_and(|v| v >= V2V_MAX_MS) { " class=\"fail\"" } else { "" },
        p95.map_or("–".into(), |v| format!("{v:.0} ms")),
    );
}
