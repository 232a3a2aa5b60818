//! Quality and latency metrics computed from audio and counters.
//!
//! - [`stoi`]: STOI and ESTOI intelligibility, the same algorithm and parameters as pystoi 0.4.1.
//! - [`delay`]: end-to-end delay by FFT cross-correlation, and alignment of two recordings.
//! - [`emodel`]: the ITU-T G.107 E-model (R factor, MOS) with codec impairment parameters.
//!
//! The small counter-based helpers below live here because several reports share them.

pub mod alignment;
pub mod delay;
pub mod emodel;
pub mod stoi;

/// Why a metric could not be computed. Every variant says which input was at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// A signal has no samples.
    #[error("{signal} signal is empty")]
    Empty { signal: &'static str },

    /// The two signals must have the same length (pystoi raises here too); align them first,
    /// e.g. with [`delay::align`].
    #[error("reference has {reference} samples but degraded has {degraded}: lengths must match (align or trim first)")]
    LengthMismatch { reference: usize, degraded: usize },

    /// A sample is NaN or infinite.
    #[error("{signal} signal has a non-finite sample ({value}) at index {index}")]
    NonFinite { signal: &'static str, index: usize, value: f32 },

    /// The sample rate is zero or otherwise unusable.
    #[error("unsupported sample rate {sample_rate} Hz: {reason}")]
    SampleRate { sample_rate: u32, reason: &'static str },

    /// Too little (non-silent) signal for the metric.
    #[error("{metric}: {reason}: got {got}, need at least {needed}")]
    TooShort { metric: &'static str, reason: &'static str, got: usize, needed: usize },

    /// A numeric parameter is out of range.
    #[error("parameter {name} = {value} is invalid: {reason}")]
    InvalidParameter { name: &'static str, value: f64, reason: &'static str },
}

/// Checks that a signal is non-empty and has only finite samples.
pub(crate) fn check_signal(signal: &'static str, x: &[f32]) -> Result<(), MetricError> {
    if x.is_empty() {
        return Err(MetricError::Empty { signal });
    }
    // Branch-free per chunk so it vectorises; locate the culprit only when there is one.
    const EXP: u32 = 0x7f80_0000;
    for (c, chunk) in x.chunks(256).enumerate() {
        if chunk.iter().fold(0u32, |bad, v| bad | u32::from(v.to_bits() & EXP == EXP)) != 0 {
            let (i, &value) = chunk.iter().enumerate().find(|(_, v)| !v.is_finite()).expect("a non-finite sample");
            return Err(MetricError::NonFinite { signal, index: c * 256 + i, value });
        }
    }
    Ok(())
}

/// Share of played-out samples that were synthesised by concealment: `concealed / total`
/// (0 when `total` is 0; not clamped, so a value above 1 exposes a counting bug).
pub fn concealment_ratio(concealed_samples: u64, total_samples: u64) -> f64 {
    if total_samples == 0 { 0.0 } else { concealed_samples as f64 / total_samples as f64 }
}

/// Loss left after FEC, as a fraction of packets sent: `(lost − min(fec_recovered, lost)) / sent`
/// (0 when `sent` is 0).
pub fn effective_loss(lost: u64, fec_recovered: u64, sent: u64) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    (lost - fec_recovered.min(lost)) as f64 / sent as f64
}
