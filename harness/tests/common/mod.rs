//! Helpers shared by the CLI-level tests: run the built `jitterbug` binary and read its output.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs `jitterbug` with `args`, ignoring any profile directory set in the environment.
pub fn jitterbug(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitterbug"))
        .args(args)
        .env_remove("JITTERBUG_PROFILES")
        .output()
        .expect("jitterbug runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 2 profiles × 2 presets × 1 clip matrix with 4 s calls: seconds to run.
pub const SMALL_MATRIX: [&str; 8] = [
    "--profiles",
    "clean,loss-random-10",
    "--presets",
    "balanced-fec,pcmu",
    "--clips",
    "arctic-a0009-slt",
    "--call-seconds",
    "4",
];

/// A matrix of the native client in virtual time, every scenario's result sorted by id.
pub fn simulate(
    profiles: &[jitterbug_core::profile::Profile],
    presets: &[jitterbug_core::preset::Preset],
    clips: &[jitterbug::clips::Clip],
    seeds: &[u64],
    call_seconds: f64,
) -> Vec<jitterbug_core::results::ScenarioResult> {
    use jitterbug::runner::{Matrix, RunOptions, run};
    let matrix = Matrix {
        profiles,
        presets,
        clips,
        clients: &[jitterbug_core::identity::Client::Native],
        seeds,
        call_seconds,
        shard: None,
    };
    let cancel = jitterbug::cancel::Cancel::default();
    run(
        &jitterbug::backend::SimBackend::default(),
        &matrix,
        &RunOptions { evidence: None, progress: false, cancel: &cancel },
    )
    .expect("nothing cancels the run")
}

/// A result in one line, for a test's log.
pub fn describe(r: &jitterbug_core::results::ScenarioResult) -> String {
    let stoi = |d: &Option<jitterbug_core::results::DirectionResult>| {
        d.as_ref().map_or("-".into(), |d| format!("{:.3}", d.stoi))
    };
    format!(
        "{}: {:?}; STOI up {} down {}; live {:?}\n",
        r.id,
        r.status,
        stoi(&r.uplink),
        stoi(&r.downlink),
        r.live.as_ref().map(|l| (l.setup_ms, &l.candidate_type, l.turns, &l.voice_to_voice_ms))
    )
}

/// The shipped catalogues' `profile` and `preset`, and `clip`.
pub fn catalog(
    profile: &str,
    preset: &str,
    clip: &str,
) -> (jitterbug_core::profile::Profile, jitterbug_core::preset::Preset, jitterbug::clips::Clip) {
    (
        jitterbug::catalog::Profiles::new(None).get(profile).unwrap(),
        jitterbug::catalog::Presets::new(None).get(preset).unwrap(),
        jitterbug::clips::load(clip).unwrap(),
    )
}
