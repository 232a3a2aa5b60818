//! End-to-end delay between a reference and a degraded recording by FFT cross-correlation,
//! and alignment of the two for metrics that need sample-aligned inputs (STOI, PESQ).

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use super::{MetricError, check_signal};

/// Estimated delay of `degraded` relative to `reference`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayEstimate {
    /// Lag in samples; positive = the degraded signal lags (`degraded[n + samples] ≈ reference[n]`).
    pub samples: i64,
    /// The same lag in milliseconds.
    pub ms: f64,
    /// Normalised cross-correlation at the peak: the correlation coefficient (without mean
    /// removal beyond the global DC) of the overlapping parts, in [−1, 1]; near 1 for a clean
    /// copy, lower with noise and codec distortion.
    pub correlation: f64,
}

/// Finds the lag in `[-max_delay_s, +max_delay_s]` (clamped to the signals' lengths) that
/// maximises the cross-correlation `c[k] = Σ_n degraded[n + k] · reference[n]` of the two
/// DC-removed signals, computed with one real FFT of each signal (zero-padded to a power of
/// two ≥ both lengths, so no circular wrap). The peak is the largest positive correlation
/// (a polarity-inverted copy is not detected as such).
pub fn estimate_delay(
    reference: &[f32],
    degraded: &[f32],
    sample_rate: u32,
    max_delay_s: f64,
) -> Result<DelayEstimate, MetricError> {
    check_signal("reference", reference)?;
    check_signal("degraded", degraded)?;
    if sample_rate == 0 {
        return Err(MetricError::SampleRate { sample_rate, reason: "must be positive" });
    }
    if !max_delay_s.is_finite() || max_delay_s < 0.0 {
        return Err(MetricError::InvalidParameter {
            name: "max_delay_s",
            value: max_delay_s,
            reason: "must be finite and >= 0",
        });
    }
    let (nr, nd) = (reference.len(), degraded.len());
    let max_lag = (max_delay_s * f64::from(sample_rate)).round() as usize;
    let max_pos = max_lag.min(nd - 1);
    let max_neg = max_lag.min(nr - 1);

    fn demean(x: &[f32]) -> impl Iterator<Item = f64> + '_ {
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
        x.iter().map(move |&v| f64::from(v) - mean)
    }
    let n = (nr + nd).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut scratch = vec![Complex::default(); fwd.get_scratch_len().max(inv.get_scratch_len())];

    let mut r = fwd.make_input_vec();
    for (dst, v) in r.iter_mut().zip(demean(reference)) {
        *dst = v;
    }
    let mut d = fwd.make_input_vec();
    for (dst, v) in d.iter_mut().zip(demean(degraded)) {
        *dst = v;
    }
    // Prefix sums of squares for the overlap energies, before the FFT consumes the buffers.
    let prefix = |x: &[f64], len: usize| {
        let mut p = Vec::with_capacity(len + 1);
        p.push(0.0f64);
        let mut acc = 0.0;
        for v in &x[..len] {
            acc += v * v;
            p.push(acc);
        }
        p
    };
    let er = prefix(&r, nr);
    let ed = prefix(&d, nd);

    let mut rs = fwd.make_output_vec();
    let mut ds = fwd.make_output_vec();
    fwd.process_with_scratch(&mut r, &mut rs, &mut scratch).expect("FFT sizes are planned");
    fwd.process_with_scratch(&mut d, &mut ds, &mut scratch).expect("FFT sizes are planned");
    for (a, b) in ds.iter_mut().zip(&rs) {
        *a *= b.conj();
    }
    // A real signal's DC and Nyquist bins are real; make it exact for the inverse transform.
    ds[0].im = 0.0;
    if let Some(last) = ds.last_mut() {
        last.im = 0.0;
    }
    let mut corr = inv.make_output_vec();
    inv.process_with_scratch(&mut ds, &mut corr, &mut scratch).expect("FFT sizes are planned");

    let at = |lag: i64| if lag >= 0 { corr[lag as usize] } else { corr[n - (-lag) as usize] };
    let mut best = (0i64, f64::NEG_INFINITY);
    for lag in -(max_neg as i64)..=(max_pos as i64) {
        let c = at(lag);
        if c > best.1 {
            best = (lag, c);
        }
    }
    let (lag, c) = best;
    let c = c / n as f64;
    // Overlap: reference[r0 .. r0+len] against degraded[d0 .. d0+len].
    let (r0, d0) = if lag >= 0 { (0, lag as usize) } else { ((-lag) as usize, 0) };
    let len = (nr - r0).min(nd - d0);
    let energy = ((er[r0 + len] - er[r0]) * (ed[d0 + len] - ed[d0])).sqrt();
    let correlation = if energy > 0.0 { (c / energy).clamp(-1.0, 1.0) } else { 0.0 };
    Ok(DelayEstimate { samples: lag, ms: lag as f64 * 1000.0 / f64::from(sample_rate), correlation })
}

/// Cuts both signals to their overlap under a delay of `delay_samples` (positive = degraded
/// lags, as in [`DelayEstimate::samples`]): returns `(reference[a..a+len], degraded[b..b+len])`
/// of equal length (possibly empty when the delay exceeds a signal's length).
pub fn align(reference: &[f32], degraded: &[f32], delay_samples: i64) -> (Vec<f32>, Vec<f32>) {
    let shift = delay_samples.unsigned_abs().min(usize::MAX as u64) as usize;
    let (r0, d0) = if delay_samples >= 0 { (0, shift) } else { (shift, 0) };
    let len = reference.len().saturating_sub(r0).min(degraded.len().saturating_sub(d0));
    if len == 0 {
        return (Vec::new(), Vec::new());
    }
    (reference[r0..r0 + len].to_vec(), degraded[d0..d0 + len].to_vec())
}
