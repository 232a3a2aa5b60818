//! `jitterbug profiles …`: list, show, sample, check.

use std::fmt::Write;

use jitterbug_core::impairment::Direction;
use jitterbug_core::profile::{DirectionSpec, Profile};
use jitterbug_core::sample::{Comparison, PathStats, Train, compare};

use jitterbug_core::results::Status;
use jitterbug_core::sample::Bounds;
use serde::Serialize;

use crate::catalog::{CatalogError, Profiles};

/// One line per profile: name, NAT/TURN, description.
pub fn list(catalog: &Profiles) -> Result<String, CatalogError> {
    let mut out = String::new();
    let profiles = catalog.all()?;
    let width = profiles.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &profiles {
        writeln!(out, "{:width$}  {}", p.name, first_sentence(&p.description)).unwrap();
    }
    Ok(out)
}

fn first_sentence(s: &str) -> &str {
    let s = s.lines().next().unwrap_or("");
    match s.find(". ") {
        Some(i) => &s[..=i],
        None => s,
    }
}

/// The profile as written, followed by what it should do to a 20 ms voice stream.
pub fn show(catalog: &Profiles, name: &str) -> Result<String, CatalogError> {
    let profile = catalog.get(name)?;
    let mut out = catalog.text(name)?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let train = Train::voice(100_000);
    writeln!(out, "\n# Expected for a voice stream ({} B every {} ms):", train.size, train.spacing.as_millis())
        .unwrap();
    for (dir, spec) in directions(&profile) {
        let e = jitterbug_core::expectation::expect(spec, train);
        writeln!(out, "#   {:<8} {}", format!("{dir:?}").to_lowercase(), one_line(&e)).unwrap();
    }
    Ok(out)
}

fn one_line(s: &PathStats) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    format!(
        "loss {:.2} %, burst {}, delay p50/p95/p99 {}/{}/{} ms, reorder {:.2} %, duplicate {:.2} %",
        s.loss_rate * 100.0,
        s.mean_burst.map_or("-".into(), |b| format!("{b:.2}")),
        ms(s.delay_ms_p50),
        ms(s.delay_ms_p95),
        ms(s.delay_ms_p99),
        s.reorder_rate * 100.0,
        s.duplicate_rate * 100.0
    )
}

pub fn directions(p: &Profile) -> [(Direction, &DirectionSpec); 2] {
    [(Direction::Uplink, &p.uplink), (Direction::Downlink, &p.downlink)]
}

/// Samples one direction of a profile.
pub fn sample(profile: &Profile, direction: Direction, seed: u64, train: Train) -> Comparison {
    let spec = match direction {
        Direction::Uplink => &profile.uplink,
        Direction::Downlink => &profile.downlink,
    };
    compare(spec, direction, seed, train)
}

/// The measured-vs-configured table `profiles sample` prints for people.
pub fn sample_table(profile: &str, c: &Comparison) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{profile} ({}): {} packets of {} B every {} ms, seed {}",
        format!("{:?}", c.direction).to_lowercase(),
        c.train.packets,
        c.train.size,
        c.train.spacing.as_secs_f64() * 1e3,
        c.seed
    )
    .unwrap();
    writeln!(out, "{:<16}{:>14}{:>14}", "", "configured", "measured").unwrap();
    let pct = |v: f64| format!("{:.3} %", v * 100.0);
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.3}{unit}"));
    let rows = [
        ("loss_rate", pct(c.configured.loss_rate), pct(c.measured.loss_rate)),
        ("mean_burst", opt(c.configured.mean_burst, ""), opt(c.measured.mean_burst, "")),
        ("delay_ms_p50", opt(c.configured.delay_ms_p50, " ms"), opt(c.measured.delay_ms_p50, " ms")),
        ("delay_ms_p95", opt(c.configured.delay_ms_p95, " ms"), opt(c.measured.delay_ms_p95, " ms")),
        ("delay_ms_p99", opt(c.configured.delay_ms_p99, " ms"), opt(c.measured.delay_ms_p99, " ms")),
        ("reorder_rate", pct(c.configured.reorder_rate), pct(c.measured.reorder_rate)),
        ("duplicate_rate", pct(c.configured.duplicate_rate), pct(c.measured.duplicate_rate)),
    ];
    for (k, a, b) in rows {
        writeln!(out, "{k:<16}{a:>14}{b:>14}").unwrap();
    }
    let k = &c.counters;
    writeln!(
        out,
        "counters: sent {} delivered {} lost {} (model {}, blackout {}, queue {}) bursts {} reordered {} duplicates {} corrupted {}",
        k.sent,
        k.delivered,
        k.sent - k.delivered,
        k.lost_loss_model,
        k.lost_blackout,
        k.lost_queue_overflow,
        k.loss_bursts,
        k.reordered,
        k.duplicates,
        k.corrupted
    )
    .unwrap();
    out
}

/// Validates every profile of the catalogue; returns a report and whether all were valid.
pub fn check(catalog: &Profiles) -> Result<(String, bool), CatalogError> {
    let mut out = String::new();
    let mut ok = true;
    let results = catalog.check()?;
    for (name, r) in &results {
        match r {
            Ok(_) => writeln!(out, "ok      {name}").unwrap(),
            Err(e) => {
                ok = false;
                writeln!(out, "INVALID {name}: {e}").unwrap();
            }
        }
    }
    let bad = results.iter().filter(|(_, r)| r.is_err()).count();
    writeln!(out, "{} profiles, {} valid, {} invalid", results.len(), results.len() - bad, bad).unwrap();
    Ok((out, ok))
}

/// A profile sampled in both directions and judged against its configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub profile: String,
    pub seed: u64,
    #[serde(flatten)]
    pub status: Status,
    pub uplink: Comparison,
    pub downlink: Comparison,
}

/// Samples one profile in both directions; `status` is `error` where measured statistics fall
/// outside the agreement bounds.
pub fn verify(profile: &Profile, seed: u64, packets: u64) -> Verdict {
    let train = Train::voice(packets);
    let [up, down] = directions(profile).map(|(d, _)| sample(profile, d, seed, train));
    let problems: Vec<String> = [&up, &down]
        .into_iter()
        .flat_map(|c| {
            let dir = format!("{:?}", c.direction).to_lowercase();
            c.disagreements(Bounds::default()).into_iter().map(move |d| format!("{dir} {d}"))
        })
        .collect();
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        Status::Error { reason: format!("measured disagrees with configured: {}", problems.join("; ")) }
    };
    Verdict { profile: profile.name.clone(), seed, status, uplink: up, downlink: down }
}
