//! The settings presets of `agent-under-test/presets/`, compiled in so the agent runs from any
//! directory with the same presets the harness uses.

use std::path::Path;

use jitterbug_core::preset::{Preset, PresetError};

/// `(name, text)` of every shipped preset file.
const PRESETS: [(&str, &str); 8] = [
    ("balanced-fec", include_str!("../presets/balanced-fec.toml")),
    ("balanced-nofec", include_str!("../presets/balanced-nofec.toml")),
    ("fixed-200", include_str!("../presets/fixed-200.toml")),
    ("fixed-60", include_str!("../presets/fixed-60.toml")),
    ("low-latency", include_str!("../presets/low-latency.toml")),
    ("pcma", include_str!("../presets/pcma.toml")),
    ("pcmu", include_str!("../presets/pcmu.toml")),
    ("robust", include_str!("../presets/robust.toml")),
];

const NAMES: [&str; PRESETS.len()] = {
    let mut names = [""; PRESETS.len()];
    let mut i = 0;
    while i < PRESETS.len() {
        names[i] = PRESETS[i].0;
        i += 1;
    }
    names
};

#[derive(Debug, thiserror::Error)]
pub enum PresetLoadError {
    #[error("unknown preset {name:?}; expected one of: {}", NAMES.join(", "))]
    Unknown { name: String },
    #[error(transparent)]
    Invalid(#[from] PresetError),
}

/// Names of the embedded presets, sorted.
pub fn names() -> &'static [&'static str] {
    &NAMES
}

/// Parses the embedded preset `name`.
pub fn load(name: &str) -> Result<Preset, PresetLoadError> {
    let (_, text) =
        PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| PresetLoadError::Unknown { name: name.to_string() })?;
    let file = format!("agent-under-test/presets/{name}.toml");
    Ok(Preset::parse(name, text, Path::new(&file))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_file_is_embedded_and_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("presets dir")
            .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_string))
            .collect();
        on_disk.sort();
        assert_eq!(on_disk, names(), "add new files in {} to PRESETS", dir.display());
        for name in names() {
            let preset = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(preset.name, *name);
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = load("nope").unwrap_err().to_string();
        assert!(err.contains("\"nope\"") && err.contains("balanced-fec, balanced-nofec"), "{err}");
    }
}
