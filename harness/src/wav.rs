//! WAV files in and out (hound), with errors that name the file.

use std::path::{Path, PathBuf};

/// Decoded audio: mono samples in [-1, 1] and their rate.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("{file}: not a readable WAV file: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: hound::Error,
    },
    #[error("{file}: cannot write WAV: {source}")]
    Write {
        file: PathBuf,
        #[source]
        source: hound::Error,
    },
    #[error("{file}: no audio samples")]
    Empty { file: PathBuf },
    #[error(
        "{file}: unsupported sample format ({bits}-bit {format:?}); expected 8/16/24/32-bit integer or 32-bit float PCM"
    )]
    Format { file: PathBuf, bits: u16, format: hound::SampleFormat },
}

/// Reads a WAV file of any rate; several channels are averaged to mono.
pub fn read(path: &Path) -> Result<Audio, WavError> {
    let reader = hound::WavReader::open(path).map_err(|source| WavError::Read { file: path.into(), source })?;
    read_from(reader, path)
}

/// Reads WAV bytes (embedded clips); `name` is used in errors.
pub fn read_bytes(bytes: &[u8], name: &Path) -> Result<Audio, WavError> {
    let reader = hound::WavReader::new(bytes).map_err(|source| WavError::Read { file: name.into(), source })?;
    read_from(reader, name)
}

fn read_from<R: std::io::Read>(reader: hound::WavReader<R>, path: &Path) -> Result<Audio, WavError> {
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let err = |source| WavError::Read { file: path.into(), source };
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(err)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>().map_err(err)?
        }
        (format, bits) => return Err(WavError::Format { file: path.into(), bits, format }),
    };
    let samples: Vec<f32> =
        interleaved.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
    if samples.is_empty() {
        return Err(WavError::Empty { file: path.into() });
    }
    Ok(Audio { samples, sample_rate: spec.sample_rate })
}

/// Writes 16-bit mono PCM.
pub fn write_i16(path: &Path, samples: &[i16], sample_rate: u32) -> Result<(), WavError> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let err = |source| WavError::Write { file: path.into(), source };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for &s in samples {
        w.write_sample(s).map_err(err)?;
    }
    w.finalize().map_err(err)
}

/// 16-bit mono PCM as WAV bytes (to serve or embed).
pub fn i16_bytes(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let mut w = hound::WavWriter::new(&mut out, spec).expect("writing to memory");
        for &s in samples {
            w.write_sample(s).expect("writing to memory");
        }
        w.finalize().expect("writing to memory");
    }
    out.into_inner()
}

/// f32 in [-1, 1] to i16, saturating.
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect()
}

/// i16 to f32 in [-1, 1].
pub fn to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
}
