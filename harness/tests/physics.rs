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

/// Share of played samples the receiver time-stretched, as getStats defines it.
fn stretch_share(rs: &[ScenarioResult]) -> f64 {
    let (mut stretched, mut total) = (0u64, 0u64);
    for d in rs.iter().flat_map(|r| [&r.uplink, &r.downlink]).flatten() {
        let jb = &d.jitter_buffer;
        stretched += jb.inserted_samples_for_deceleration + jb.removed_samples_for_acceleration;
        total += jb.total_samples_received;
    }
    stretched as f64 / total as f64
}

fn mean_m2e(rs: &[ScenarioResult]) -> f64 {
    let v: Vec<f64> = rs.iter().flat_map(|r| [&r.uplink, &r.downlink]).flatten().map(|d| d.mouth_to_ear_ms).collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// The adaptive buffer adapts as NetEq does: on jittery links it barely time-stretches and is
/// about as intelligible as a generous fixed buffer (docs/neteq-port.md).
#[test]
fn adaptive_buffer_stretches_little_and_keeps_up_with_fixed_200_on_jitter() {
    let seeds = [1, 2, 3];
    for profile in ["jitter-high", "3g", "satellite", "reorder", "lossy-high-jitter", "handover-spikes"] {
        let adaptive = run(profile, "balanced-fec", &seeds);
        let fixed = run(profile, "fixed-200", &seeds);
        let share = stretch_share(&adaptive);
        assert!(share <= 0.03, "{profile}: balanced-fec stretched {:.2} % of samples", share * 100.0);
        let (a, f) = (mean_stoi(&adaptive), mean_stoi(&fixed));
        assert!(a >= f - 0.03, "{profile}: balanced-fec STOI {a:.3} vs fixed-200 {f:.3}");
    }
}

/// Where the link allows less delay than 200 ms of buffer, the adaptive buffer takes it.
#[test]
fn adaptive_buffer_is_not_slower_than_fixed_200_where_jitter_allows() {
    let seeds = [1, 2, 3];
    for profile in ["3g", "wifi-high-loss", "wireless-variable", "4g-poor"] {
        let a = mean_m2e(&run(profile, "balanced-fec", &seeds));
        let f = mean_m2e(&run(profile, "fixed-200", &seeds));
        assert!(a <= f, "{profile}: balanced-fec mouth-to-ear {a:.1} ms vs fixed-200 {f:.1} ms");
    }
}
