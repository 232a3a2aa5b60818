//! Packet loss concealment for G.711 at 8 kHz, in the spirit of ITU-T G.711 Appendix I
//! (pitch-waveform replication). Our own implementation; the constants follow the Appendix.
//!
//! ## Algorithm
//! - **History and look-back delay.** The concealer keeps the last [`HISTORY_LEN`] samples
//!   (48.75 ms) of the signal it produced and releases every sample [`G711Plc::DELAY_SAMPLES`]
//!   (30 samples = 3.75 ms, a quarter of the longest pitch period) late. That look-back lets
//!   the start of a loss be smoothed into samples that have not been played yet.
//! - **Pitch estimate.** At the first lost frame the pitch period `P` is the lag in
//!   40..=120 samples (5–15 ms) that maximises the normalised autocorrelation of the last
//!   20 ms of history with the history `P` earlier. To avoid octave errors (multiples of the
//!   true period correlate as well as the period itself) the shortest lag whose correlation
//!   is within 5 % of the best, moved to its local peak, is taken.
//! - **Replication.** The lost signal repeats the last pitch period of the history. With
//!   `q = P / 4`, every wrap from the end of the repeated span back to its start is an
//!   overlap-add over `q` samples: the last `q` samples of the span are cross-faded into the
//!   `q` samples that precede its start in the history, which lead naturally into it. The same
//!   cross-fade is applied to the last `q` (not yet released) samples of the real history, so
//!   the join between the last good sample and the first synthetic one is smooth too.
//! - **More periods as the loss lasts.** After 10 ms of loss the repeated span grows to two
//!   periods and after 20 ms to three, to avoid the buzz of one cycle repeated; each switch is
//!   a `q`-sample cross-fade from the old span to the new, which starts one period earlier.
//! - **Attenuation.** The first 10 ms of a loss are at full level; after that the gain falls
//!   linearly by 20 % per 10 ms, reaching zero (mute) 60 ms into the loss and staying there.
//! - **Recovery.** The first good frame after a loss is overlap-added with the continuation of
//!   the synthetic signal (same gain schedule) over 4 ms, plus 4 ms per further 10 ms of loss,
//!   at most 10 ms (and at most one frame).

/// History kept: three of the longest pitch periods plus a quarter period (48.75 ms).
pub const HISTORY_LEN: usize = 3 * PITCH_MAX + PITCH_MAX / 4;
/// Shortest pitch period searched: 5 ms at 8 kHz.
pub const PITCH_MIN: usize = 40;
/// Longest pitch period searched: 15 ms at 8 kHz.
pub const PITCH_MAX: usize = 120;
/// Correlation window of the pitch search: 20 ms.
const CORR_LEN: usize = 160;
/// 10 ms at 8 kHz: the unit of the attenuation and period-growth schedule.
const TEN_MS: usize = 80;
/// Loss duration after which the output is muted: 60 ms.
pub const MUTE_AFTER_SAMPLES: usize = 6 * TEN_MS;

/// The state of a loss being concealed.
#[derive(Debug, Clone)]
struct Erasure {
    /// History at the start of the loss: the last `3·P + q` samples.
    snap: Vec<f32>,
    pitch: usize,
    /// Overlap-add length, a quarter period.
    q: usize,
    /// Periods in the repeated span (1..=3).
    periods: usize,
    /// Position within the repeated span.
    pos: usize,
    /// Synthetic samples produced so far in this loss.
    produced: usize,
    /// Cross-fade from a shorter span after a period switch:
    /// (old periods, old position, samples left).
    fade: Option<(usize, usize, usize)>,
}

impl Erasure {
    /// Sample `pos` of the span of `periods` periods, with the wrap cross-fade applied.
    fn span_sample(&self, periods: usize, pos: usize) -> f32 {
        let len = periods * self.pitch;
        let start = self.snap.len() - len;
        if pos + self.q >= len {
            let i = pos + self.q - len;
            let w = (i + 1) as f32 / (self.q + 1) as f32;
            self.snap[start + pos] * (1.0 - w) + self.snap[start - self.q + i] * w
        } else {
            self.snap[start + pos]
        }
    }

    fn gain(produced: usize) -> f32 {
        if produced < TEN_MS { 1.0 } else { (1.0 - 0.2 * (produced - TEN_MS) as f32 / TEN_MS as f32).max(0.0) }
    }

    /// Next synthetic sample, attenuated.
    fn next(&mut self) -> f32 {
        let periods = (1 + self.produced / TEN_MS).min(3);
        if periods != self.periods {
            self.fade = Some((self.periods, self.pos, self.q));
            self.periods = periods;
        }
        let mut v = self.span_sample(self.periods, self.pos);
        if let Some((old_periods, old_pos, left)) = self.fade {
            let old = self.span_sample(old_periods, old_pos);
            let w = (self.q - left + 1) as f32 / (self.q + 1) as f32;
            v = old * (1.0 - w) + v * w;
            self.fade = (left > 1).then_some((old_periods, (old_pos + 1) % (old_periods * self.pitch), left - 1));
        }
        self.pos = (self.pos + 1) % (self.periods * self.pitch);
        let g = Erasure::gain(self.produced);
        self.produced += 1;
        v * g
    }
}

/// G.711 Appendix I–style concealer at 8 kHz. Feed it every frame in order: good frames
/// through [`G711Plc::good_frame`], lost ones through [`G711Plc::lost_frame`]; each call
/// returns as many samples as it was given (or asked for), delayed by [`G711Plc::DELAY_SAMPLES`].
#[derive(Debug, Clone)]
pub struct G711Plc {
    /// The most recent samples produced (good or synthetic), newest last. The last
    /// `DELAY_SAMPLES` of them have not been released yet.
    history: Vec<f32>,
    erasure: Option<Erasure>,
}

impl Default for G711Plc {
    fn default() -> Self {
        G711Plc::new()
    }
}

impl G711Plc {
    /// Look-back delay of the output: a quarter of the longest pitch period, 3.75 ms.
    pub const DELAY_SAMPLES: usize = PITCH_MAX / 4;

    pub fn new() -> G711Plc {
        G711Plc { history: vec![0.0; HISTORY_LEN], erasure: None }
    }

    /// Whether the last frame was concealed.
    pub fn in_loss(&self) -> bool {
        self.erasure.is_some()
    }

    /// Accepts one good frame and returns the same number of samples of output.
    pub fn good_frame(&mut self, frame: &[i16]) -> Vec<i16> {
        let mut samples: Vec<f32> = frame.iter().map(|&v| v as f32).collect();
        if let Some(mut e) = self.erasure.take() {
            let ola = (4 * TEN_MS / 10 * (1 + e.produced.saturating_sub(1) / TEN_MS)).min(TEN_MS);
            let ola = ola.min(samples.len());
            for (i, s) in samples.iter_mut().take(ola).enumerate() {
                let w = (i + 1) as f32 / (ola + 1) as f32;
                *s = e.next() * (1.0 - w) + *s * w;
            }
        }
        self.push(&samples)
    }

    /// Conceals one lost frame of `len` samples and returns `len` samples of output.
    pub fn lost_frame(&mut self, len: usize) -> Vec<i16> {
        if self.erasure.is_none() {
            self.erasure = Some(self.start_erasure());
        }
        let e = self.erasure.as_mut().expect("erasure started above");
        let synthetic: Vec<f32> = (0..len).map(|_| e.next()).collect();
        self.push(&synthetic)
    }

    /// Appends new samples to the history and releases as many, `DELAY_SAMPLES` late.
    fn push(&mut self, samples: &[f32]) -> Vec<i16> {
        self.history.extend_from_slice(samples);
        let end = self.history.len() - Self::DELAY_SAMPLES;
        let out = self.history[end - samples.len()..end]
            .iter()
            .map(|&v| v.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16)
            .collect();
        let excess = self.history.len().saturating_sub(HISTORY_LEN.max(samples.len() + Self::DELAY_SAMPLES));
        self.history.drain(..excess);
        out
    }

    fn start_erasure(&mut self) -> Erasure {
        let pitch = estimate_pitch(&self.history);
        let q = (pitch / 4).max(1);
        let n = self.history.len();
        let snap = self.history[n - (3 * pitch + q)..].to_vec();
        let e = Erasure { snap, pitch, q, periods: 1, pos: 0, produced: 0, fade: None };
        // Smooth the join into the first synthetic sample: the unreleased tail of the real
        // history becomes the cross-faded end of the one-period span.
        for i in 0..q {
            self.history[n - q + i] = e.span_sample(1, pitch - q + i);
        }
        e
    }
}

/// Pitch period (samples at 8 kHz, 40..=120) of the end of `history` by normalised
/// autocorrelation; see the module documentation.
pub fn estimate_pitch(history: &[f32]) -> usize {
    let n = history.len();
    assert!(n >= CORR_LEN + PITCH_MAX, "pitch search needs {} samples", CORR_LEN + PITCH_MAX);
    let x = &history[n - CORR_LEN..];
    let ex: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum();
    let corr: Vec<f64> = (PITCH_MIN..=PITCH_MAX)
        .map(|lag| {
            let y = &history[n - CORR_LEN - lag..n - lag];
            let (mut c, mut ey) = (0.0f64, 0.0f64);
            for (&a, &b) in x.iter().zip(y) {
                c += a as f64 * b as f64;
                ey += (b as f64).powi(2);
            }
            if ex > 0.0 && ey > 0.0 { c / (ex * ey).sqrt() } else { 0.0 }
        })
        .collect();
    let best = corr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if best <= 0.0 {
        return PITCH_MIN;
    }
    let mut i = corr.iter().position(|&c| c >= 0.95 * best).unwrap_or(0);
    while i + 1 < corr.len() && corr[i + 1] > corr[i] {
        i += 1;
    }
    PITCH_MIN + i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn periodic(period: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let ph = 2.0 * std::f64::consts::PI * i as f64 / period;
                (6000.0 * ph.sin() + 3000.0 * (2.0 * ph).sin() + 1500.0 * (3.0 * ph + 0.5).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn pitch_of_periodic_signals() {
        for period in [40usize, 57, 64, 80, 100, 120] {
            let x = periodic(period as f64, HISTORY_LEN);
            assert_eq!(estimate_pitch(&x), period);
        }
        // A 25-sample (320 Hz) period is below the range: its shortest multiple in range.
        assert_eq!(estimate_pitch(&periodic(25.0, HISTORY_LEN)), 50);
        assert_eq!(estimate_pitch(&[0.0; HISTORY_LEN]), PITCH_MIN);
    }

    #[test]
    fn output_is_delayed_and_length_preserving() {
        let mut plc = G711Plc::new();
        let frame: Vec<i16> = (0..160).map(|i| i as i16).collect();
        let out = plc.good_frame(&frame);
        assert_eq!(out.len(), 160);
        assert!(out[..G711Plc::DELAY_SAMPLES].iter().all(|&v| v == 0));
        assert_eq!(&out[G711Plc::DELAY_SAMPLES..], &frame[..160 - G711Plc::DELAY_SAMPLES]);
        let out = plc.good_frame(&frame);
        assert_eq!(&out[..G711Plc::DELAY_SAMPLES], &frame[160 - G711Plc::DELAY_SAMPLES..]);
    }

    #[test]
    fn gain_schedule() {
        assert_eq!(Erasure::gain(0), 1.0);
        assert_eq!(Erasure::gain(79), 1.0);
        assert!((Erasure::gain(160) - 0.8).abs() < 1e-6);
        assert!((Erasure::gain(400) - 0.2).abs() < 1e-6);
        assert_eq!(Erasure::gain(MUTE_AFTER_SAMPLES), 0.0);
        assert_eq!(Erasure::gain(10_000), 0.0);
    }

    /// The first 10 ms of a loss in an exactly periodic signal are reproduced almost exactly.
    #[test]
    fn replicates_a_periodic_signal() {
        let x = periodic(64.0, 8_000);
        let mut plc = G711Plc::new();
        let mut out = Vec::new();
        for f in 0..20 {
            out.extend(plc.good_frame(&to_i16(&x[f * 80..(f + 1) * 80])));
        }
        out.extend(plc.lost_frame(80));
        out.extend(plc.lost_frame(80));
        let d = G711Plc::DELAY_SAMPLES;
        // Output sample k is input sample k − d; compare the concealed 10 ms.
        let mut err = 0.0f64;
        let mut sig = 0.0f64;
        for k in 1600..1680 {
            err += (out[k + d] as f64 - x[k] as f64).powi(2);
            sig += (x[k] as f64).powi(2);
        }
        assert!(10.0 * (err / sig).log10() < -40.0, "error {:.1} dB", 10.0 * (err / sig).log10());
    }

    fn to_i16(x: &[f32]) -> Vec<i16> {
        x.iter().map(|&v| v.round() as i16).collect()
    }
}
