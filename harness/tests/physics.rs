//! Physics that must hold whatever the baselines say.

mod common;

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;
use jitterbug_core::results::ScenarioResult;

fn run(profile: &str, preset: &str, seeds: &[u64]) -> Vec<ScenarioResult> {
    let p = Profiles::embedded().get(profile).unwrap();
    let s = Presets::embedded().get(preset).unwrap();
    let c = clips::load("arctic-a0009-slt").unwrap();
    common::simulate(&[p], &[s], &[c], seeds, 15.0)
}

fn mean_stoi(rs: &[ScenarioResult]) -> f64 {
    let v: Vec<f64> = rs.iter().flat_map(|r| [&r.uplink, &r.downlink]).flatten().map(|d| d.stoi).collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn fec_beats_no_fec_at_ten_percent_loss() {
    let seeds = [1, 2, 3, 4, 5];
    let fec = run("loss-random-10", "balanced-fec", &seeds);
    let nofec = run("loss-random-10", "balanced-nofec", &seeds);
    let recovered: u64 =
        fec.iter().flat_map(|r| [&r.uplink, &r.downlink]).flatten().map(|d| d.jitter_buffer.fec_recovered).sum();
    assert!(recovered > 0, "FEC recovered nothing");
    let (a, b) = (mean_stoi(&fec), mean_stoi(&nofec));
    assert!(a > b, "mean STOI with FEC {a:.4} must beat without {b:.4}");
}

#[test]
fn bigger_buffer_fewer_late_losses_on_high_jitter() {
    let late = |preset| -> u64 {
        run("jitter-high", preset, &[1])
            .iter()
            .flat_map(|r| [&r.uplink, &r.downlink])
            .flatten()
            .map(|d| d.jitter_buffer.packets_late)
            .sum()
    };
    let (small, big) = (late("fixed-60"), late("fixed-200"));
    assert!(big < small, "fixed 200 ms lost {big} late, fixed 60 ms {small}");
}

#[test]
fn loss_lowers_intelligibility() {
    let clean = mean_stoi(&run("clean", "balanced-nofec", &[1]));
    let lossy = mean_stoi(&run("loss-random-10", "balanced-nofec", &[1]));
    assert!(lossy < clean - 0.01, "10 % loss {lossy:.4} vs clean {clean:.4}");
}
