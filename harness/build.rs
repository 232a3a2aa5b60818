//! Embeds the shipped profiles, presets and reference clips so `jitterbug` works from any
//! directory.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// `pub static NAME: &[(name, file name, contents)]` with `include_str!` or `include_bytes!`.
fn embed(out: &mut String, name: &str, dir: &Path, ext: &str, bytes: bool) {
    let (ty, mac) = if bytes { ("&[u8]", "include_bytes") } else { ("&str", "include_str") };
    writeln!(out, "pub static {name}: &[(&str, &str, {ty})] = &[").unwrap();
    for f in files(dir, ext) {
        println!("cargo:rerun-if-changed={}", f.display());
        let stem = f.file_stem().unwrap().to_str().unwrap();
        let file = f.file_name().unwrap().to_str().unwrap();
        let abs = f.canonicalize().unwrap();
        writeln!(out, "    ({stem:?}, {file:?}, {mac}!({:?})),", abs.display().to_string()).unwrap();
    }
    out.push_str("];\n");
}

/// `pub const NAME: &str` = the version of `package` in the lock file (what the build linked),
/// for the report's environment.
fn locked_version(out: &mut String, name: &str, lock: &Path, package: &str) {
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|p| p.lines().any(|l| l.trim() == format!("name = {package:?}")))
        .and_then(|p| p.lines().find_map(|l| l.trim().strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown".into());
    writeln!(out, "pub const {name}: &str = {version:?};").unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = String::new();
    embed(&mut out, "PROFILES", &root.join("netem-profiles"), "toml", false);
    embed(&mut out, "PRESETS", &root.join("agent-under-test/presets"), "toml", false);
    embed(&mut out, "CLIPS", &root.join("golden/speech"), "wav", true);
    locked_version(&mut out, "WEBRTC_VERSION", &root.join("Cargo.lock"), "webrtc");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}
