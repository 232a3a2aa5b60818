//! How NetEq's Expand would mute a concealment, to book its samples as voice or noise the way
//! Chromium's getStats does (`silentConcealedSamples` is what Expand produced once its mute
//! factor reached 0). Our concealment audio is the codec's PLC; only its booking follows
//! Expand (libwebrtc `neteq/expand.cc`: the muting slope and voice-mix factor of
//! `Expand::AnalyzeSignal`, the per-call gain of `Expand::Process`; `NetEqImpl::DoExpand`
//! books each call by the mute factor after it). A lost frame in speech stays voice; in
//! silence Expand mutes within a few pitch periods and the rest of a long gap is noise.

use super::time_stretch::pitch_period;

/// Samples at 48 kHz.
const FS_MULT: i64 = 6;
/// The history Expand analyses: 256 × fs_mult samples (32 ms).
pub const HISTORY: usize = 256 * FS_MULT as usize;
/// Expand's overlap: 5 × fs / 8000.
const OVERLAP: usize = 5 * FS_MULT as usize;
/// `kMaxConsecutiveExpands`.
const MAX_CONSECUTIVE: u32 = 200;

/// The mute factor of one concealment event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandMuting {
    /// Q14 (16384 = 1.0), and its decay per sample in Q20.
    mute: i64,
    slope: i64,
    /// The energy rose into the gap: the first call is not muted.
    onset: bool,
    /// Samples per `Expand::Process` call: one pitch period.
    lag: usize,
    consecutive: u32,
    /// Samples of the last call not yet booked, and whether they were noise.
    carry: usize,
    carry_noise: bool,
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

impl ExpandMuting {
    /// Analyses the audio before the gap (its last [`HISTORY`] samples; zeros before a
    /// shorter one), as `Expand::AnalyzeSignal` does at the start of an expand period.
    pub fn analyse(played: &[i16]) -> ExpandMuting {
        let mut h = vec![0i16; HISTORY.saturating_sub(played.len())];
        h.extend_from_slice(&played[played.len().saturating_sub(HISTORY)..]);
        let lag = pitch_period(&h[HISTORY - super::time_stretch::INPUT..]);
        // Correlation coefficient (Q14) between the last segment and the one a lag earlier.
        let corr_len = (lag + 10).min(120 * FS_MULT as usize).max(60 * FS_MULT as usize).min(HISTORY - lag);
        let (a, b) = (&h[HISTORY - corr_len..], &h[HISTORY - corr_len - lag..HISTORY - lag]);
        let (ea, eb) = (energy(a), energy(b));
        let cross: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
        let corr_q14 =
            if ea > 0.0 && eb > 0.0 { ((cross / (ea * eb).sqrt()).clamp(0.0, 1.0) * 16384.0) as i64 } else { 0 };
        // Amplitude ratio (Q13) of the last lag + overlap samples to the same one period earlier.
        let n = (lag + OVERLAP).min(HISTORY - lag);
        let (e1, e2) = (energy(&h[HISTORY - n..]), energy(&h[HISTORY - n - lag..HISTORY - lag]));
        let ratio_q13 = if e1 / 4.0 < e2 && e1 > e2 / 4.0 {
            ((e1 / e2).sqrt() * 8192.0) as i64
        } else if e1 / 4.0 < e2 || e2 == 0.0 {
            4096
        } else {
            16384
        };
        let voice_mix_q14 = if corr_q14 > 7875 {
            let x = corr_q14 as f64 / 16384.0;
            ((-5179.0 + 19931.0 * x - 16422.0 * x * x + 5776.0 * x * x * x) / 4096.0 * 16384.0).clamp(0.0, 16384.0)
                as i64
        } else {
            0
        };
        let lag_i = lag as i64;
        let (slope, onset) = if ratio_q13 > 12288 {
            let denom = ((lag_i * ratio_q13) >> 8).clamp(1, i64::from(i16::MAX));
            let t = ((ratio_q13 - 8192) << 12) / denom;
            (if ratio_q13 > 14746 { (t + 1) / 2 } else { (t + 4) / 8 }, true)
        } else {
            let mut s = (8192 - ratio_q13) * 128 / lag_i;
            if voice_mix_q14 <= 13107 {
                s = s.max(5243 / FS_MULT);
            } else if ratio_q13 > 8028 {
                s = 0;
            }
            (s, false)
        };
        ExpandMuting { mute: 16384, slope, onset, lag, consecutive: 0, carry: 0, carry_noise: false }
    }

    /// One `Expand::Process` call: the mute factor after it.
    fn process(&mut self) -> i64 {
        if self.consecutive == 3 {
            self.slope = self.slope.max(1049 / FS_MULT);
        }
        if self.consecutive == 7 {
            self.slope = self.slope.max(2097 / FS_MULT);
        }
        if self.consecutive != 0 || !self.onset {
            let step = (16384 - ((self.lag as i64 * self.slope + 8192) >> 6)).max(0);
            let gain = (step * self.mute + 8192) >> 14;
            // Expand's guard against a gain stuck at a small, audible value.
            self.mute = if self.consecutive > 3 && gain >= self.mute { 0 } else { gain };
        }
        self.consecutive = (self.consecutive + 1).min(MAX_CONSECUTIVE);
        self.mute
    }

    /// Books `n` more concealed samples: how many of them NetEq would count as noise.
    pub fn conceal(&mut self, n: usize) -> usize {
        let (mut booked, mut noise) = (0, 0);
        while booked < n {
            if self.carry == 0 {
                self.carry_noise = self.process() == 0;
                self.carry = self.lag;
            }
            let take = self.carry.min(n - booked);
            self.carry -= take;
            booked += take;
            noise += if self.carry_noise { take } else { 0 };
        }
        noise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, period: f64, amp: f64) -> Vec<i16> {
        (0..n).map(|i| (amp * (2.0 * std::f64::consts::PI * i as f64 / period).sin()) as i16).collect()
    }

    #[test]
    fn silence_mutes_within_a_few_periods() {
        // All-zero history: lag 120 (2.5 ms), amplitude ratio 0.5, no voicing: slope 4369 (Q20),
        // the mute factor about halves per call and reaches 0 after 14 calls.
        let mut m = ExpandMuting::analyse(&[0; HISTORY]);
        assert_eq!((m.lag, m.slope, m.onset), (120, 4369, false));
        assert_eq!(m.conceal(960), 0, "a 20 ms gap in silence is still voice");
        let noise = m.conceal(960);
        assert_eq!(noise, 960 - (13 * 120 - 960), "muted by the 14th call of 120 samples");
    }

    #[test]
    fn voiced_speech_is_not_muted_over_a_lost_frame() {
        // A steady, strongly periodic vowel: voice mix high, equal energies, no muting slope
        // until Expand's own floors after 3 and 7 calls.
        let mut m = ExpandMuting::analyse(&tone(HISTORY, 240.0, 8000.0));
        assert_eq!(m.slope, 0, "{m:?}");
        assert_eq!(m.conceal(960 * 3), 0, "60 ms of expansion of a vowel stays voice");
    }

    #[test]
    fn an_onset_is_not_muted_on_the_first_call() {
        // A swelling vowel: its amplitude grows 1.6× every 2.5 ms (the shortest lag), so the
        // last period is louder than the one before by more than 1.5× at any lag.
        let h: Vec<i16> = (0..HISTORY)
            .map(|i| {
                let amp = 50.0 * 1.6f64.powf(i as f64 / 120.0);
                (amp * (2.0 * std::f64::consts::PI * i as f64 / 240.0).sin()) as i16
            })
            .collect();
        let mut m = ExpandMuting::analyse(&h);
        assert!(m.onset, "{m:?}");
        m.process();
        assert_eq!(m.mute, 16384);
    }
}
