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
