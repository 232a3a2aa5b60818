//! The conformance suite: a matrix of profiles × presets × clips in virtual time, compared with
//! the golden baselines in `golden/` (the same store and comparator the CI gate uses), plus
//! physics that must hold whatever the baselines say.
//!
//! After a deliberate change, re-bless the store from a default run and the snapshot with insta,
//! as `golden/README.md` says, and review both diffs.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;
use jitterbug_core::baseline::{Baseline, Tolerances, Verdict};
use jitterbug_core::jitter_buffer::BUFFER_VERSION;
use jitterbug_core::results::{ScenarioResult, Status};

const PROFILES: [&str; 12] = [
    "clean",
    "loss-random-5",
    "loss-random-10",
    "loss-burst-ge",
    "jitter-high",
    "blackout-3s",
    "handover-spikes",
    "wifi",
    "3g",
    "bufferbloat",
    "reorder",
    "duplicate-corrupt",
];
const PRESETS: [&str; 5] = ["balanced-fec", "balanced-nofec", "low-latency", "robust", "pcmu"];
const CLIPS: [&str; 2] = ["arctic-a0009-slt", "festival-slt-agent"];
/// `jitterbug run`'s default call length, so a default run can be gated on this baseline.
const CALL_SECONDS: f64 = jitterbug::sim::CALL_SECONDS;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden")
}

/// The conformance matrix, run once per test binary.
fn results() -> &'static [ScenarioResult] {
    static RESULTS: OnceLock<Vec<ScenarioResult>> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let profiles: Vec<_> = PROFILES.iter().map(|n| Profiles::embedded().get(n).unwrap()).collect();
        let presets: Vec<_> = PRESETS.iter().map(|n| Presets::embedded().get(n).unwrap()).collect();
        let clips: Vec<_> = CLIPS.iter().map(|n| clips::load(n).unwrap()).collect();
        common::simulate(&profiles, &presets, &clips, &[1], CALL_SECONDS)
    })
}

fn tolerances() -> Tolerances {
    jitterbug::gate::load_tolerances(&golden())
        .expect("golden/tolerances.toml parses")
        .remove("sim")
        .expect("a [sim] section")
}

/// The shipped store covers the whole default `jitterbug run`; this suite checks its own part
/// of it, and every scenario it runs must be blessed there.
#[test]
fn matrix_matches_the_golden_baseline() {
    let results = results();
    assert_eq!(results.len(), PROFILES.len() * PRESETS.len() * CLIPS.len());
    let path = golden().join("baselines/sim.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let store: Baseline = serde_json::from_str(&text).expect("baseline parses");
    let baseline = store.restricted_to(results.iter().map(|r| r.id.as_str()));
    let cmp = baseline.compare(results, Some(BUFFER_VERSION), &tolerances());
    let bad: Vec<String> = cmp
        .rows
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::Pass))
        .map(|r| format!("{} {} {:?}", r.scenario, r.metric, r.verdict))
        .collect();
    assert!(
        bad.is_empty(),
        "{} differences from the golden baseline (re-bless: see golden/README.md):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn rounded_matrix_snapshot() {
    let mut table =
        String::from("scenario | up STOI | down STOI | up m2e ms | down m2e ms | up conceal % | up late | up FEC\n");
    for r in results() {
        let (Some(u), Some(d)) = (&r.uplink, &r.downlink) else {
            table.push_str(&format!("{} | {:?}\n", r.id, r.status));
            continue;
        };
        table.push_str(&format!(
            "{} | {:.2} | {:.2} | {:.0} | {:.0} | {:.1} | {} | {}\n",
            r.id.trim_end_matches("/native/sim/1"),
            u.stoi,
            d.stoi,
            u.mouth_to_ear_ms,
            d.mouth_to_ear_ms,
            u.concealment_ratio * 100.0,
            u.jitter_buffer.packets_late,
            u.jitter_buffer.fec_recovered
        ));
    }
    insta::assert_snapshot!("sim_matrix", table);
}

#[test]
fn every_scenario_ran() {
    for r in results() {
        assert_eq!(r.status, Status::Ok, "{}", r.id);
    }
}

#[test]
fn clean_link_is_intelligible() {
    for r in results().iter().filter(|r| r.profile == "clean") {
        for d in [&r.uplink, &r.downlink].into_iter().flatten() {
            assert!(d.stoi >= 0.95, "{}: STOI {}", r.id, d.stoi);
        }
    }
}

#[test]
fn delay_never_below_the_floor() {
    for r in results() {
        for d in [&r.uplink, &r.downlink].into_iter().flatten() {
            assert!(
                d.mouth_to_ear_ms >= d.delay_floor_ms,
                "{}: mouth-to-ear {} ms below floor {} ms",
                r.id,
                d.mouth_to_ear_ms,
                d.delay_floor_ms
            );
        }
    }
}
