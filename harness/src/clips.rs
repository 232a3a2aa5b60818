//! Reference speech clips: the ones in `golden/speech/` (compiled in) or a WAV path.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::wav;

/// A clip as the simulator uses it: 48 kHz mono 16-bit.
#[derive(Debug, Clone)]
pub struct Clip {
    pub name: String,
    pub pcm: Arc<Vec<i16>>,
}

pub const RATE: u32 = 48_000;

/// Names of the shipped clips.
pub fn names() -> Vec<String> {
    crate::embedded::CLIPS.iter().map(|(n, _, _)| n.to_string()).collect()
}

/// A shipped clip by name, or a 48 kHz WAV file by path.
pub fn load(name: &str) -> anyhow::Result<Clip> {
    let audio = if let Some((_, file, bytes)) = crate::embedded::CLIPS.iter().find(|(n, _, _)| *n == name) {
        wav::read_bytes(bytes, &Path::new("golden/speech").join(file))?
    } else if name.ends_with(".wav") || name.contains('/') {
        wav::read(Path::new(name))?
    } else {
        bail!("unknown clip `{name}`; shipped clips: {}", names().join(", "));
    };
    if audio.sample_rate != RATE {
        bail!(
            "clip `{name}`: sample rate {} Hz, expected {RATE} Hz (resample it first, e.g. `sox in.wav -r 48000 out.wav`)",
            audio.sample_rate
        );
    }
    let stem = Path::new(name).file_stem().and_then(|s| s.to_str()).context("clip name")?;
    Ok(Clip { name: stem.to_string(), pcm: Arc::new(wav::to_i16(&audio.samples)) })
}

impl Clip {
    /// The clip repeated back to back until the call lasts at least `seconds` (whole
    /// repetitions; each clip already starts and ends with silence), so schedule events later
    /// in a call — a blackout at 10 s, a handover at 20 s — happen during speech.
    pub fn as_call(&self, seconds: f64) -> Clip {
        let want = (seconds * f64::from(RATE)) as usize;
        let reps = want.div_ceil(self.pcm.len().max(1)).max(1);
        let pcm: Vec<i16> = self.pcm.iter().copied().cycle().take(reps * self.pcm.len()).collect();
        Clip { name: self.name.clone(), pcm: Arc::new(pcm) }
    }
}
