//! What the terminal shows of results: one printer for a scenario, one for a run.

use std::fmt::Write;
use std::path::Path;

use jitterbug::gate::Gate;
use jitterbug_core::results::{ScenarioResult, Status};

pub fn status(s: &Status) -> String {
    match s {
        Status::Ok => "ok".into(),
        Status::Unsupported { reason } => format!("unsupported: {reason}"),
        Status::Error { reason } => format!("error: {reason}"),
        Status::Invalid { reason } => format!("invalid: {reason}"),
    }
}

/// A scenario: its status, a line per direction, and what a live or browser call adds.
pub fn scenario(r: &ScenarioResult) -> String {
    let mut s = format!("{}: {}\n", r.id, status(&r.status));
    for (name, d) in [("uplink", &r.uplink), ("downlink", &r.downlink)] {
        if let Some(d) = d {
            let n = &d.network;
            let _ = writeln!(
                s,
                "  {name:<8} STOI {:.3}  ESTOI {:.3}  mouth-to-ear {:.1} ms (floor {:.1})  MOS {:.2}  loss {:.1} % ({} of {} RTP)  concealed {:.1} %  FEC-recovered {}  late {}",
                d.stoi,
                d.estoi,
                d.mouth_to_ear_ms,
                d.delay_floor_ms,
                d.mos,
                n.loss_rate * 100.0,
                n.packets_sent - n.packets_delivered,
                n.packets_sent,
                d.concealment_ratio * 100.0,
                d.jitter_buffer.fec_recovered,
                d.jitter_buffer.packets_late
            );
        }
    }
    if let Some(l) = &r.live {
        let _ = writeln!(
            s,
            "  setup {} ms, candidate {}, voice-to-voice median {} ms over {} turns ({} answered, {} false end-of-turn), relay timer p99 late {:.2} ms",
            l.setup_ms.map_or("-".into(), |v| format!("{v:.0}")),
            l.candidate_type.as_deref().unwrap_or("-"),
            l.voice_to_voice_median_ms.map_or("-".into(), |v| format!("{v:.0}")),
            l.turns,
            l.turns_answered,
            l.false_end_of_turn,
            l.relay_timer_late_p99_ms
        );
    }
    if let Some(b) = &r.browser {
        let ms =
            |k: &str| b.cycle_ms.get(k).and_then(serde_json::Value::as_f64).map_or("-".into(), |v| format!("{v:.0}"));
        let _ = writeln!(
            s,
            "  {} {}; cycle {} ms (driver {}, session {}, page load {}, call {}, quit {})",
            b.name,
            b.version,
            ms("total_ms"),
            ms("driver_ready_ms"),
            ms("session_ms"),
            ms("goto_ms"),
            ms("page_run_ms"),
            ms("quit_ms")
        );
    }
    s
}

/// How a run's results were gated, for its summary.
pub enum Gated<'a> {
    Against { store: &'a Path, gate: &'a Gate },
    Not(String),
}

/// The end of a run: scenarios by status, the gate's verdict, the worst scenarios, where the
/// report is.
pub fn run(results: &[ScenarioResult], gated: &Gated<'_>, report: &Path) -> String {
    let count = |f: fn(&Status) -> bool| results.iter().filter(|r| f(&r.status)).count();
    let mut s = format!(
        "{} scenarios: {} ok, {} unsupported, {} error, {} invalid\n",
        results.len(),
        count(|s| *s == Status::Ok),
        count(|s| matches!(s, Status::Unsupported { .. })),
        count(|s| matches!(s, Status::Error { .. })),
        count(|s| matches!(s, Status::Invalid { .. })),
    );
    match gated {
        Gated::Against { store, gate } => {
            let _ = writeln!(s, "gate against {}: {:?}", store.display(), gate.outcome());
            if let Some(why) = gate.rebless() {
                let _ = writeln!(s, "  {why}");
            }
            for line in gate.totals() {
                let _ = writeln!(s, "  {line}");
            }
        }
        Gated::Not(why) => {
            let _ = writeln!(s, "not gated: {why}");
        }
    }
    let mut worst: Vec<(&ScenarioResult, f64)> = results
        .iter()
        .filter(|r| r.status == Status::Ok)
        .filter_map(|r| {
            let stoi = r.uplink.iter().chain(r.downlink.iter()).map(|d| d.stoi).filter(|v| v.is_finite());
            stoi.reduce(f64::min).map(|v| (r, v))
        })
        .collect();
    worst.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
    if !worst.is_empty() {
        s.push_str("worst (lowest STOI of either direction):\n");
        for (r, stoi) in worst.iter().take(3) {
            let _ = writeln!(s, "  {stoi:.3}  {}", r.id);
        }
    }
    let _ = writeln!(s, "report: {}", report.display());
    s
}
