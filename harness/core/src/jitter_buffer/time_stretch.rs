//! Time-stretching as NetEq does it (libwebrtc `neteq/time_stretch.cc`, `accelerate.cc`,
//! `preemptive_expand.cc`): on 30 ms of audio, find the pitch period on a 4 kHz copy, and
//! remove (accelerate) or add (preemptive expand) exactly one period with a cross-fade — but
//! only when the two periods around the middle correlate above 0.9, or the frame is not
//! active speech. Otherwise the audio plays unchanged.

/// Samples at 48 kHz.
const FS_MULT: usize = 6;
/// 30 ms: the input a stretch works on.
pub const INPUT: usize = 240 * FS_MULT;
/// A shorter input is refused (`kError`): (2 × 120 − 1) × fs_mult.
pub const MIN_INPUT: usize = (2 * 120 - 1) * FS_MULT;
/// 15 ms: the middle of the input, where the periods meet.
const MIDDLE: usize = 120 * FS_MULT;
/// The 4 kHz analysis: 110 samples, a 50-sample segment at 60, lags 10..=59.
const DOWN_LEN: usize = 110;
const CORR_LEN: usize = 50;
const MIN_LAG: usize = 10;
const MAX_LAG: usize = 60;
/// The 48 kHz → 4 kHz low-pass (NetEq's 7-tap filter, decimation 12).
const DOWN_TAPS: [f64; 7] = [0.2487, 0.0952, 0.1042, 0.1074, 0.1042, 0.0952, 0.2487];
const DECIMATION: usize = 12;
/// 0.9 in Q14, compared strictly (`kCorrelationThreshold`).
const CORRELATION_THRESHOLD_Q14: i32 = 14746;
/// Per-sample energy assumed before the background noise is known.
pub const DEFAULT_NOISE_ENERGY: f64 = 75_000.0;

/// What a stretch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stretch {
    /// Active speech, correlated periods: one period removed or added.
    Success(usize),
    /// Not active speech: stretched regardless of correlation.
    LowEnergy(usize),
    /// Neither: the audio is unchanged.
    NoStretch,
    /// Too little audio to analyse.
    Error,
}

impl Stretch {
    /// Samples removed or added.
    pub fn samples(self) -> usize {
        match self {
            Stretch::Success(p) | Stretch::LowEnergy(p) => p,
            Stretch::NoStretch | Stretch::Error => 0,
        }
    }

    pub fn succeeded(self) -> bool {
        self.samples() > 0
    }
}

/// The 4 kHz copy of `x` (`DspHelper::DownsampleTo4kHz`).
fn downsample(x: &[i16]) -> [f64; DOWN_LEN] {
    std::array::from_fn(|k| DOWN_TAPS.iter().enumerate().map(|(j, h)| h * f64::from(x[DECIMATION * k + j])).sum())
}

/// The pitch period in 48 kHz samples, 120..=714 (`TimeStretch::Process`: autocorrelation at
/// 4 kHz, the largest peak refined by a parabolic fit).
pub fn pitch_period(x: &[i16]) -> usize {
    let d = downsample(x);
    let corr = |lag: usize| -> f64 { (0..CORR_LEN).map(|i| d[MAX_LAG + i] * d[MAX_LAG + i - lag]).sum() };
    let c: Vec<f64> = (MIN_LAG..MAX_LAG).map(corr).collect();
    let best = (0..c.len()).fold(0, |b, i| if c[i] > c[b] { i } else { b });
    let offset = if best > 0 && best + 1 < c.len() {
        let (a, m, b) = (c[best - 1], c[best], c[best + 1]);
        let denom = a - 2.0 * m + b;
        if denom < 0.0 { (0.5 * (a - b) / denom).clamp(-0.5, 0.5) } else { 0.0 }
    } else {
        0.0
    };
    let period = ((MIN_LAG + best) as f64 + offset) * DECIMATION as f64;
    (period.round() as usize).clamp(20 * FS_MULT, 20 * FS_MULT + 99 * FS_MULT)
}

/// Normalised correlation of the `p` samples before the middle with the `p` after it, and
/// whether they are active speech against `noise_energy` (per-sample energy of the background).
fn analyse(x: &[i16], p: usize, noise_energy: f64) -> (f64, bool) {
    let (v1, v2) = (&x[MIDDLE - p..MIDDLE], &x[MIDDLE..MIDDLE + p]);
    let dot = |a: &[i16], b: &[i16]| a.iter().zip(b).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>();
    let (e1, e2, c) = (dot(v1, v1), dot(v2, v2), dot(v1, v2));
    let corr = if e1 > 0.0 && e2 > 0.0 { (c.max(0.0) / (e1 * e2).sqrt()).min(1.0) } else { 0.0 };
    let active = (e1 + e2) / (2.0 * p as f64) > 8.0 * noise_energy;
    (corr, active)
}

fn correlated(corr: f64) -> bool {
    (corr * 16384.0) as i32 > CORRELATION_THRESHOLD_Q14
}

/// `from` fading into `to` over their length, NetEq's ramp (`AudioVector::CrossFade`): the
/// weight of `from` is `1 − (i+1)·⌊16384/(n+1)⌋/16384`.
fn crossfade(from: &[i16], to: &[i16]) -> Vec<i16> {
    let step = 16384 / (from.len() as i64 + 1);
    from.iter()
        .zip(to)
        .enumerate()
        .map(|(i, (&a, &b))| {
            let w_to = (i as i64 + 1) * step;
            ((i64::from(a) * (16384 - w_to) + i64::from(b) * w_to + 8192) >> 14) as i16
        })
        .collect()
}

/// Removes one pitch period around the middle of `x` (≥ [`MIN_INPUT`] samples) when the
/// periods correlate or the frame is passive (`Accelerate::CheckCriteriaAndStretch`).
pub fn accelerate(x: &mut Vec<i16>, noise_energy: f64) -> Stretch {
    if x.len() < MIN_INPUT {
        return Stretch::Error;
    }
    let p = pitch_period(x);
    let (corr, active) = analyse(x, p, noise_energy);
    if active && !correlated(corr) {
        return Stretch::NoStretch;
    }
    let faded = crossfade(&x[MIDDLE - p..MIDDLE], &x[MIDDLE..MIDDLE + p]);
    x.splice(MIDDLE - p..MIDDLE + p, faded);
    if active { Stretch::Success(p) } else { Stretch::LowEnergy(p) }
}

/// Adds one pitch period after `max(old, 15 ms)` of `x`, where the first `old` samples were
/// already played (`PreemptiveExpand::CheckCriteriaAndStretch`).
pub fn preemptive_expand(x: &mut Vec<i16>, old: usize, noise_energy: f64) -> Stretch {
    if x.len() < MIN_INPUT || old + 5 * FS_MULT >= x.len() {
        return Stretch::Error;
    }
    let mut p = pitch_period(x);
    let (corr, active) = analyse(x, p, noise_energy);
    if active && !(correlated(corr) && old <= MIDDLE) {
        return Stretch::NoStretch;
    }
    if !active {
        p = p.min(x.len() - old);
    }
    let u = old.max(MIDDLE);
    if u < p || u + p > x.len() {
        return Stretch::NoStretch;
    }
    let faded = crossfade(&x[u..u + p], &x[u - p..u]);
    x.splice(u..u, faded);
    if active { Stretch::Success(p) } else { Stretch::LowEnergy(p) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced-like tone whose level rises through the frame, so the shortest lag is the
    /// strongest correlation peak (a flat tone correlates equally at every multiple of its
    /// period).
    fn tone(n: usize, period: f64, amp: f64) -> Vec<i16> {
        let level = |i: usize| 0.25 + 0.75 * i as f64 / n as f64;
        (0..n).map(|i| (amp * level(i) * (2.0 * std::f64::consts::PI * i as f64 / period).sin()) as i16).collect()
    }

    fn noise(n: usize, amp: f64) -> Vec<i16> {
        let mut s: u64 = 7;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (((s >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 2.0 * amp) as i16
            })
            .collect()
    }

    /// `TimeStretch::Process`' pitch range: 2.5–14.9 ms.
    #[test]
    fn pitch_period_of_a_tone() {
        let p = pitch_period(&tone(INPUT, 144.0, 8000.0));
        assert!((138..=150).contains(&p), "3 ms tone: {p}");
        for period in [100.0, 300.0, 960.0] {
            let p = pitch_period(&tone(INPUT, period, 8000.0));
            assert!((120..=714).contains(&p), "{period}: {p}");
        }
    }

    /// The correlation gate: correlated active speech stretches, uncorrelated does not;
    /// passive audio stretches regardless.
    #[test]
    fn correlation_gate() {
        let mut voiced = tone(INPUT, 240.0, 8000.0);
        assert_eq!(accelerate(&mut voiced, 0.0), Stretch::Success(240));
        assert_eq!(voiced.len(), INPUT - 240);
        let mut rough = noise(INPUT, 8000.0);
        assert_eq!(accelerate(&mut rough, 0.0), Stretch::NoStretch);
        assert_eq!(rough.len(), INPUT, "unchanged");
        let mut quiet = noise(INPUT, 100.0);
        assert!(matches!(accelerate(&mut quiet, DEFAULT_NOISE_ENERGY), Stretch::LowEnergy(_)));
    }

    #[test]
    fn input_length_gate() {
        let mut short = tone(MIN_INPUT - 1, 240.0, 8000.0);
        assert_eq!(accelerate(&mut short, 0.0), Stretch::Error);
        let mut enough = tone(MIN_INPUT, 240.0, 8000.0);
        assert_ne!(accelerate(&mut enough, 0.0), Stretch::Error);
    }

    /// Accelerate's splice: x[..720−P], the cross-fade, x[720+P..].
    #[test]
    fn accelerate_splice() {
        let x: Vec<i16> = tone(INPUT, 240.0, 8000.0);
        let mut y = x.clone();
        assert_eq!(accelerate(&mut y, 0.0), Stretch::Success(240));
        assert_eq!(&y[..480], &x[..480]);
        assert_eq!(&y[720..], &x[960..]);
        let w = |i: i64| (i + 1) * (16384 / 241);
        let expect = ((i64::from(x[480]) * (16384 - w(0)) + i64::from(x[720]) * w(0) + 8192) >> 14) as i16;
        assert_eq!(y[480], expect);
    }

    /// Preemptive expand's splice at `max(old, 720)`; refused when more than 15 ms was played.
    #[test]
    fn preemptive_expand_splice_and_old_data() {
        let x: Vec<i16> = tone(INPUT, 240.0, 8000.0);
        let mut y = x.clone();
        assert_eq!(preemptive_expand(&mut y, 0, 0.0), Stretch::Success(240));
        assert_eq!(y.len(), INPUT + 240);
        assert_eq!(&y[..720], &x[..720]);
        assert_eq!(&y[960..], &x[720..]);
        let mut z = x.clone();
        assert_eq!(preemptive_expand(&mut z, 721, 0.0), Stretch::NoStretch);
        let mut ok = x.clone();
        assert_eq!(preemptive_expand(&mut ok, 720, 0.0), Stretch::Success(240));
    }

    /// A periodic signal stays the same signal: no click at the joins.
    #[test]
    fn stretching_a_tone_leaves_no_click() {
        for f in [accelerate as fn(&mut Vec<i16>, f64) -> Stretch, |x: &mut Vec<i16>, e| preemptive_expand(x, 0, e)] {
            let mut x = tone(INPUT, 240.0, 8000.0);
            assert!(f(&mut x, 0.0).succeeded());
            let max_step = x.windows(2).map(|w| (w[1] as i32 - w[0] as i32).abs()).max().unwrap();
            assert!(max_step < 300, "click of {max_step}");
        }
    }
}
