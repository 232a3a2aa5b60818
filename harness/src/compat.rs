//! The compatibility matrix (design report table 7, docs/design-report.md), generated from browser runs: per browser,
//! whether each feature a voice client depends on worked, with what was observed. A feature
//! no run exercised says "not run" and why, never "yes".

use std::collections::BTreeMap;
use std::fmt::Write;

use jitterbug_core::identity::Client;
use jitterbug_core::profile::TurnTransport;
use jitterbug_core::results::{ScenarioResult, Status};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Presets, Profiles};

pub const FEATURES: [&str; 8] = [
    "capture constraints",
    "Opus FEC negotiated",
    "DTX",
    "ptime",
    "stats available",
    "TURN/UDP",
    "TURN/TCP",
    "TURN/TLS",
];

/// The inbound-rtp fields the browser suites read.
pub const STATS_FIELDS: [&str; 10] = [
    "jitter",
    "packetsLost",
    "jitterBufferDelay",
    "jitterBufferTargetDelay",
    "jitterBufferEmittedCount",
    "concealedSamples",
    "concealmentEvents",
    "insertedSamplesForDeceleration",
    "removedSamplesForAcceleration",
    "totalSamplesReceived",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "kebab-case")]
pub enum Cell {
    Yes(String),
    No(String),
    NotRun(String),
    Unsupported(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub browser: String,
    pub version: String,
    pub cells: BTreeMap<&'static str, Cell>,
}

fn last_with<'a>(stats: &'a [Value], key: &str) -> Option<&'a Value> {
    stats.iter().rev().find_map(|s| s.get(key).filter(|v| !v.is_null()))
}

fn has(fmtp: &Value, param: &str) -> bool {
    fmtp.as_str().is_some_and(|f| f.split(';').any(|p| p.trim() == param))
}

/// Frame length the browser actually sent: packets over the time since it connected.
fn observed_ptime_ms(r: &ScenarioResult) -> Option<f64> {
    let b = r.browser.as_ref()?;
    let setup = r.live.as_ref()?.setup_ms?;
    let last = b.stats.iter().rev().find(|s| s.get("outbound").is_some_and(|o| !o.is_null()))?;
    let sent = last["outbound"]["packetsSent"].as_f64()?;
    let span_ms = last["t_ms"].as_f64()? - setup;
    (sent > 10.0 && span_ms > 0.0).then(|| span_ms / sent)
}

fn turn_of(profile: &str) -> TurnTransport {
    Profiles::embedded().get(profile).map(|p| p.nat.turn).unwrap_or_default()
}

fn dtx_preset(preset: &str) -> bool {
    Presets::embedded().get(preset).is_ok_and(|p| p.codec.dtx)
}

/// One row per browser in `results` (browser runs only).
pub fn matrix(results: &[ScenarioResult]) -> Vec<Row> {
    let mut by_browser: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in results.iter().filter(|r| r.browser.is_some() || r.client != Client::Native) {
        by_browser.entry(r.client.name()).or_default().push(r);
    }
    by_browser.into_iter().map(|(name, runs)| row(name, &runs)).collect()
}

fn row(name: &str, runs: &[&ScenarioResult]) -> Row {
    let version = runs.iter().find_map(|r| r.browser.as_ref().map(|b| b.version.clone())).unwrap_or_default();
    let mut cells = BTreeMap::new();
    let ok: Vec<&&ScenarioResult> = runs.iter().filter(|r| r.status == Status::Ok && r.browser.is_some()).collect();
    if ok.is_empty() {
        let cell = runs
            .iter()
            .find_map(|r| match &r.status {
                Status::Unsupported { reason } => Some(Cell::Unsupported(reason.clone())),
                Status::Error { reason } | Status::Invalid { reason } => Some(Cell::No(format!("failed: {reason}"))),
                Status::Ok => None,
            })
            .unwrap_or_else(|| Cell::No("no completed call".into()));
        for f in FEATURES {
            cells.insert(f, cell.clone());
        }
        return Row { browser: name.into(), version, cells };
    }
    let first = ok[0].browser.as_ref().expect("filtered");

    cells.insert(
        "capture constraints",
        match first.constraints_ok {
            Some(true) => Cell::Yes("echoCancellation, noiseSuppression, autoGainControl on".into()),
            Some(false) => Cell::No(format!("track settings: {}", first.capture_settings)),
            None => Cell::NotRun("the page did not report track settings".into()),
        },
    );
    let n = &first.negotiated;
    cells.insert(
        "Opus FEC negotiated",
        match (has(&n["fmtp_offer"], "useinbandfec=1"), has(&n["fmtp_answer"], "useinbandfec=1")) {
            (true, true) => Cell::Yes("offered and answered useinbandfec=1".into()),
            (false, _) => Cell::No(format!("offer fmtp: {}", n["fmtp_offer"])),
            (true, false) => Cell::No("the agent's answer turned it off (preset without FEC)".into()),
        },
    );
    cells.insert(
        "DTX",
        match ok.iter().find(|r| dtx_preset(&r.preset)) {
            None => Cell::NotRun("no run with a DTX preset (e.g. `robust`)".into()),
            Some(r) => {
                let frame = Presets::embedded().get(&r.preset).map(|p| f64::from(p.codec.frame_ms.millis())).ok();
                match (observed_ptime_ms(r), frame) {
                    (Some(per_packet), Some(frame)) if per_packet > frame * 1.25 => Cell::Yes(format!(
                        "usedtx=1 honoured: one packet per {per_packet:.0} ms on average ({frame:.0} ms frames)"
                    )),
                    (Some(per_packet), _) => Cell::No(format!("a packet every {per_packet:.0} ms: no DTX gaps")),
                    _ => Cell::NotRun("no outbound packet count".into()),
                }
            }
        },
    );
    let plain = ok.iter().find(|r| !dtx_preset(&r.preset)).copied().unwrap_or(ok[0]);
    cells.insert(
        "ptime",
        match (observed_ptime_ms(plain), plain.browser.as_ref().and_then(|b| b.negotiated["ptime"].as_f64())) {
            (Some(obs), Some(asked)) if (obs - asked).abs() <= asked * 0.15 => {
                Cell::Yes(format!("a=ptime:{asked:.0} honoured ({obs:.1} ms per packet)"))
            }
            (Some(obs), Some(asked)) => Cell::No(format!("asked a=ptime:{asked:.0}, sent one per {obs:.1} ms")),
            (Some(obs), None) => Cell::Yes(format!("{obs:.1} ms per packet (no a=ptime in the answer)")),
            _ => Cell::NotRun("no outbound packet count".into()),
        },
    );
    let missing: Vec<&str> = match last_with(&first.stats, "inbound") {
        None => STATS_FIELDS.to_vec(),
        Some(i) => STATS_FIELDS.iter().copied().filter(|f| !i.get(*f).is_some_and(Value::is_number)).collect(),
    };
    cells.insert(
        "stats available",
        if missing.is_empty() {
            Cell::Yes(format!("all {} inbound-rtp fields", STATS_FIELDS.len()))
        } else {
            Cell::No(format!("missing {}", missing.join(", ")))
        },
    );
    for (feature, transport) in
        [("TURN/UDP", TurnTransport::Udp), ("TURN/TCP", TurnTransport::Tcp), ("TURN/TLS", TurnTransport::Tls)]
    {
        let tried: Vec<&&ScenarioResult> = runs.iter().filter(|r| turn_of(&r.profile) == transport).collect();
        let cell = match tried.iter().find(|r| r.status == Status::Ok) {
            Some(r) if r.live.as_ref().is_some_and(|l| l.turn_used) => {
                let setup = r.live.as_ref().and_then(|l| l.setup_ms).unwrap_or(f64::NAN);
                let expected = feature.trim_start_matches("TURN/").to_ascii_lowercase();
                match relay_protocol(r) {
                    Some(p) if p != expected => Cell::No(format!("relayed, but over {p}, not {expected}")),
                    _ => Cell::Yes(format!("relayed through coturn, setup {setup:.0} ms")),
                }
            }
            Some(_) => Cell::No("connected, but not through the relay".into()),
            None => match tried.first().map(|r| &r.status) {
                Some(Status::Unsupported { reason }) => Cell::NotRun(reason.clone()),
                Some(Status::Error { reason } | Status::Invalid { reason }) => Cell::No(reason.clone()),
                _ => Cell::NotRun(format!("no run with a {feature} profile")),
            },
        };
        cells.insert(feature, cell);
    }
    Row { browser: name.into(), version, cells }
}

/// How the browser reached its TURN server (`udp`, `tcp`, `tls`), as getStats names it.
fn relay_protocol(r: &ScenarioResult) -> Option<String> {
    let pair = &r.browser.as_ref()?.selected_pair;
    pair.get("relay_protocol").and_then(Value::as_str).map(str::to_ascii_lowercase)
}

impl Cell {
    /// The verdict word and what was observed.
    pub fn verdict(&self) -> (&'static str, &str) {
        match self {
            Cell::Yes(d) => ("yes", d),
            Cell::No(d) => ("no", d),
            Cell::NotRun(d) => ("not run", d),
            Cell::Unsupported(d) => ("unsupported", d),
        }
    }
}

/// A Markdown table of verdicts (the README's), then what was observed, per browser.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from("| browser |");
    for f in FEATURES {
        let _ = write!(s, " {f} |");
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(FEATURES.len()));
    s.push('\n');
    for r in rows {
        let _ = write!(s, "| {} {} |", r.browser, r.version);
        for f in FEATURES {
            let _ = write!(s, " {} |", r.cells.get(f).map_or("–", |c| c.verdict().0));
        }
        s.push('\n');
    }
    s.push('\n');
    for r in rows {
        let details: Vec<String> = FEATURES
            .iter()
            .filter_map(|f| r.cells.get(f).map(|c| (f, c.verdict().1)))
            .filter(|(_, d)| !d.is_empty())
            .map(|(f, d)| format!("{f}: {d}"))
            .collect();
        let mut unique = details.clone();
        unique.dedup_by(|a, b| a.split_once(": ").map(|x| x.1) == b.split_once(": ").map(|x| x.1));
        let text = if unique.len() == 1 && details.len() == FEATURES.len() {
            unique[0].split_once(": ").map_or(unique[0].clone(), |(_, d)| d.to_owned())
        } else {
            details.join("; ")
        };
        let _ = writeln!(s, "- **{}**: {}", r.browser, text.replace('|', "/"));
    }
    s
}
