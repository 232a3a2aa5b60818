//! The agent's WAV files: recordings out (16-bit mono 48 kHz), scripted answers in.

use std::path::Path;

use anyhow::{Context, bail};

const SPEC: hound::WavSpec =
    hound::WavSpec { channels: 1, sample_rate: 48_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };

pub fn write(path: &Path, pcm: &[i16]) -> anyhow::Result<()> {
    let mut w = hound::WavWriter::create(path, SPEC).with_context(|| format!("creating {}", path.display()))?;
    for &s in pcm {
        w.write_sample(s)?;
    }
    w.finalize().with_context(|| format!("writing {}", path.display()))
}

/// 16-bit PCM, mono, 48 kHz; anything else is refused with what was found.
pub fn parse_mono_48k(bytes: &[u8]) -> anyhow::Result<Vec<i16>> {
    let r = hound::WavReader::new(std::io::Cursor::new(bytes)).context("not a WAV file")?;
    let s = r.spec();
    if s.channels != 1
        || s.sample_rate != 48_000
        || s.bits_per_sample != 16
        || s.sample_format != hound::SampleFormat::Int
    {
        bail!(
            "expected 16-bit PCM mono at 48000 Hz, found {} channel(s), {} Hz, {} bits {:?}",
            s.channels,
            s.sample_rate,
            s.bits_per_sample,
            s.sample_format
        );
    }
    r.into_samples::<i16>().collect::<Result<_, _>>().context("truncated WAV data")
}
