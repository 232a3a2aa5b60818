//! A call's evidence on disk, written by one writer for every backend: `result.json` first
//! (what was measured survives any later failure), then the files the backend produced.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use jitterbug_core::results::ScenarioResult;
use jitterbug_core::rtpdump::Rtpdump;
use serde::Serialize;

use crate::pcap::{self, Datagram};

/// One evidence file.
pub enum Artifact {
    /// Pretty JSON, rendered when the artifact was made.
    Json { name: &'static str, text: String },
    /// 48 kHz mono 16-bit.
    Wav { name: &'static str, pcm: Vec<i16> },
    Pcap {
        name: &'static str,
        datagrams: Vec<Datagram>,
        /// The datagrams' time zero, since the UNIX epoch.
        zero: Duration,
    },
    /// A sender's plaintext record of what it sent (the payloads an SRTP capture hides).
    Rtpdump { name: &'static str, dump: Rtpdump },
}

impl Artifact {
    pub fn json<T: Serialize>(name: &'static str, value: &T) -> anyhow::Result<Artifact> {
        Ok(Artifact::Json { name, text: json_text(value)? })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Artifact::Json { name, .. }
            | Artifact::Wav { name, .. }
            | Artifact::Pcap { name, .. }
            | Artifact::Rtpdump { name, .. } => name,
        }
    }
}

/// What one scenario produced.
pub struct CallArtifacts {
    pub result: ScenarioResult,
    pub files: Vec<Artifact>,
}

impl CallArtifacts {
    /// `result.json` and the files, as the terminal lists them.
    pub fn names(&self) -> Vec<&'static str> {
        std::iter::once("result.json").chain(self.files.iter().map(Artifact::name)).collect()
    }
}

/// Pretty JSON with a trailing newline (every JSON file Jitterbug writes).
pub fn json_text<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Writes `a` into `dir` (created if needed).
pub fn write(dir: &Path, a: &CallArtifacts) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let put = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    put("result.json", &json_text(&a.result)?)?;
    for f in &a.files {
        match f {
            Artifact::Json { name, text } => put(name, text)?,
            Artifact::Wav { name, pcm } => crate::wav::write_i16(&dir.join(name), pcm, 48_000)?,
            Artifact::Pcap { name, datagrams, zero } => pcap::write(&dir.join(name), datagrams, *zero)?,
            Artifact::Rtpdump { name, dump } => {
                let path = dir.join(name);
                std::fs::write(&path, dump.to_bytes()).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Where a matrix keeps a call's evidence, below the run directory.
pub fn call_dir(run_dir: &Path, r: &ScenarioResult) -> PathBuf {
    ["calls", &r.profile, &r.preset, &r.clip, &r.seed.to_string(), r.client.name()]
        .iter()
        .fold(run_dir.to_path_buf(), |p, c| p.join(c))
}
