//! Block-wise alignment of a degraded recording to its reference.
//!
//! An adaptive jitter buffer stretches and squeezes time (accelerate, preemptive expand,
//! concealment), so the delay of a received call drifts: one global lag misaligns most of it
//! and STOI collapses for reasons that are not intelligibility. As ViSQOL and POLQA do, the
//! reference is cut into blocks and each block is matched to the degraded signal near the
//! previous block's lag; the matched pieces form an aligned degraded signal, and the per-block
//! lags are the mouth-to-ear delay over the call.

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use super::{MetricError, check_signal};

/// Block length and how far one block's lag may move from the previous one.
const BLOCK_S: f64 = 0.4;
const TRACK_S: f64 = 0.15;
/// Blocks quieter than this below the loudest block keep the previous lag (silence).
const SILENT_DB: f64 = -30.0;
/// A block whose best match correlates less than this keeps the previous lag.
const MIN_CORRELATION: f64 = 0.5;
/// Acquisition matches this many blocks at once (2 s), so repeated sounds cannot fool it.
const ACQUIRE_BLOCKS: usize = 5;
/// Consecutive poorly matching speech blocks after which the track is re-acquired.
const LOST_AFTER: usize = 3;
/// Lags are searched at this rate (≤ 0.125 ms resolution is plenty for STOI and delay).
const SEARCH_RATE: u32 = 8_000;

/// The reference and the degraded signal re-timed block by block to match it.
#[derive(Debug, Clone)]
pub struct Alignment {
    pub reference: Vec<f32>,
    pub degraded: Vec<f32>,
    /// Lag (ms, positive = degraded later) of each block with speech in it.
    pub speech_block_delays_ms: Vec<f64>,
}

impl Alignment {
    /// Percentile (0–1) of the per-block delay, nearest rank; `None` without speech.
    pub fn delay_percentile_ms(&self, p: f64) -> Option<f64> {
        let mut d = self.speech_block_delays_ms.clone();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        let rank = (p * d.len() as f64).ceil().max(1.0) as usize;
        Some(d[rank.min(d.len()) - 1])
    }
}

/// Aligns `degraded` to `reference` block by block, starting from the global lag within
/// `max_delay_s`.
pub fn align_blockwise(
    reference: &[f32],
    degraded: &[f32],
    sample_rate: u32,
    max_delay_s: f64,
) -> Result<Alignment, MetricError> {
    check_signal("reference", reference)?;
    check_signal("degraded", degraded)?;
    if sample_rate == 0 {
        return Err(MetricError::SampleRate { sample_rate, reason: "must be positive" });
    }
    let k = if sample_rate.is_multiple_of(SEARCH_RATE) { (sample_rate / SEARCH_RATE) as usize } else { 1 };
    let rate = sample_rate as usize / k;
    let (r, d) = (decimate(reference, k), decimate(degraded, k));
    let block = (BLOCK_S * rate as f64) as usize;
    let track = (TRACK_S * rate as f64) as i64;
    let mut xc = Xcorr::default();

    let max_lag = (max_delay_s * rate as f64) as i64;
    // Until the first speech is matched over the whole window, lags are unknown.
    let mut lag: Option<i64> = None;
    let mut last_good: Option<i64> = None;
    let mut poor = 0;

    let energies: Vec<f64> = r.chunks(block).map(|b| b.iter().map(|&v| f64::from(v) * f64::from(v)).sum()).collect();
    let loudest = energies.iter().copied().fold(0.0, f64::max);
    let threshold = loudest * 10f64.powf(SILENT_DB / 10.0);

    let mut out = Vec::with_capacity(reference.len());
    let mut delays = Vec::new();
    for (b, energy) in energies.iter().enumerate() {
        let start = b * block;
        let len = block.min(r.len() - start);
        if *energy > threshold && len * 2 >= block {
            let a = &r[start..start + len];
            // Acquire (first speech, or the track was lost) by matching a longer stretch of the
            // reference anywhere in the window, which has a single clear peak; then refine the
            // block near the acquired or previous lag, so pitch-period look-alikes far away
            // cannot capture the track.
            let center = lag.or_else(|| {
                let long = &r[start..(start + ACQUIRE_BLOCKS * block).min(r.len())];
                xc.best_lag(long, &d, start as i64, max_lag).map(|(l, _)| l)
            });
            let found = center.and_then(|c| {
                xc.best_lag(a, &d, start as i64 + c - track, 2 * track).map(|(l, corr)| (c + l - track, corr))
            });
            match found {
                Some((l, c)) if c > MIN_CORRELATION || lag.is_none() => {
                    lag = Some(l);
                    poor = 0;
                }
                _ => {
                    poor += 1;
                    if poor >= LOST_AFTER {
                        // Several speech blocks in a row match nothing near the track: re-acquire.
                        last_good = lag.or(last_good);
                        lag = None;
                        poor = 0;
                    }
                }
            }
            if let Some(l) = lag {
                delays.push(l as f64 * 1e3 / rate as f64);
            }
        }
        // Copy the matched piece at the full rate.
        let (from, n) = (start * k, (len * k).min(reference.len() - start * k));
        let full_lag = lag.or(last_good).unwrap_or(0) * k as i64;
        out.extend((0..n).map(|i| sample(degraded, (from + i) as i64 + full_lag)));
    }
    Ok(Alignment { reference: reference.to_vec(), degraded: out, speech_block_delays_ms: delays })
}

/// Cross-correlation by FFT with cached plans (a call aligns ~75 blocks).
#[derive(Default)]
struct Xcorr {
    planner: RealFftPlanner<f64>,
}

impl Xcorr {
    /// The lag `l` in `0..=span` maximising the normalised correlation between `a` and
    /// `b[offset + l ..]` (samples outside `b` are zero), with that correlation.
    fn best_lag(&mut self, a: &[f32], b: &[f32], offset: i64, span: i64) -> Option<(i64, f64)> {
        let seg_len = a.len() + span as usize;
        let seg: Vec<f64> = (0..seg_len as i64).map(|i| f64::from(sample(b, offset + i))).collect();
        let n = (a.len() + seg_len).next_power_of_two();
        let fwd = self.planner.plan_fft_forward(n);
        let inv = self.planner.plan_fft_inverse(n);
        let mut x = fwd.make_input_vec();
        for (dst, &v) in x.iter_mut().zip(a) {
            *dst = f64::from(v);
        }
        let mut y = fwd.make_input_vec();
        y[..seg_len].copy_from_slice(&seg);
        let (mut fx, mut fy) = (fwd.make_output_vec(), fwd.make_output_vec());
        fwd.process(&mut x, &mut fx).ok()?;
        fwd.process(&mut y, &mut fy).ok()?;
        let mut prod: Vec<Complex<f64>> = fx.iter().zip(&fy).map(|(p, q)| p.conj() * q).collect();
        let mut c = inv.make_output_vec();
        inv.process(&mut prod, &mut c).ok()?;
        // Energy of each window of `seg` under `a`, by prefix sums, for normalisation.
        let mut prefix = vec![0.0; seg_len + 1];
        for (i, v) in seg.iter().enumerate() {
            prefix[i + 1] = prefix[i] + v * v;
        }
        let ea: f64 = a.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        (0..=span as usize)
            .map(|l| {
                let eb = prefix[(l + a.len()).min(seg_len)] - prefix[l];
                let norm = (ea * eb).sqrt();
                (l as i64, if norm > 0.0 { c[l] / n as f64 / norm } else { 0.0 })
            })
            .max_by(|p, q| p.1.total_cmp(&q.1))
    }
}

fn sample(x: &[f32], i: i64) -> f32 {
    if i < 0 { 0.0 } else { x.get(i as usize).copied().unwrap_or(0.0) }
}

/// Averages each run of `k` samples: a crude low-pass that is enough for finding lags.
fn decimate(x: &[f32], k: usize) -> Vec<f32> {
    x.chunks(k).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speech-like test signal: harmonics with a syllable envelope.
    fn voice(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 48_000.0;
                let env = (t * 3.0 * std::f32::consts::PI).sin().abs();
                let f0 = 140.0 + 30.0 * (t * 0.7).sin();
                env * (1..6).map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32).sum::<f32>()
                    * 0.2
            })
            .collect()
    }

    #[test]
    fn follows_a_drifting_delay() {
        // Delay grows from 50 ms to 130 ms over 4 s, by 20 ms every 0.8 s, like a buffer growing.
        let r = voice(4 * 48_000);
        let mut d = vec![0.0f32; 50 * 48];
        for (i, chunk) in r.chunks(38_400).enumerate() {
            if i > 0 {
                d.extend(std::iter::repeat_n(0.0, 20 * 48));
            }
            d.extend_from_slice(chunk);
        }
        let a = align_blockwise(&r, &d, 48_000, 1.0).unwrap();
        let first = a.speech_block_delays_ms[0];
        let last = *a.speech_block_delays_ms.last().unwrap();
        assert!((first - 50.0).abs() < 2.0, "first {first}");
        assert!((last - 130.0).abs() < 2.0, "last {last}");
        // The re-timed signal matches the reference far better than one global lag would.
        let err = |x: &[f32]| r.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f32>();
        let global = crate::metrics::delay::estimate_delay(&r, &d, 48_000, 1.0).unwrap().samples as usize;
        assert!(err(&a.degraded) < 0.2 * err(&d[global..]), "block-wise alignment should fix drift");
    }
}
