//! Embeds every profile in `netem-profiles/` so `jitterbug` works from any directory.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../netem-profiles");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("netem-profiles/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("/// Profiles shipped in `netem-profiles/`: (name, file name, TOML text).\npub static EMBEDDED: &[(&str, &str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_stem().unwrap().to_str().unwrap();
        let file = f.file_name().unwrap().to_str().unwrap();
        let abs = f.canonicalize().unwrap();
        writeln!(out, "    ({name:?}, {file:?}, include_str!({:?})),", abs.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_profiles.rs");
    std::fs::write(dest, out).unwrap();
}
