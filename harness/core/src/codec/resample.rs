//! Streaming 48 kHz ↔ 8 kHz resampling for the G.711 path.
//!
//! Both directions use rubato's synchronous FFT resampler ([`rubato::FftFixedInOut`]): a
//! windowed-sinc low-pass applied by FFT overlap-add on fixed blocks, so every block of input
//! yields exactly one block of output and the filter state (the overlap) carries across calls.
//! The block is fixed at [`BLOCK_MS`] whatever the codec frame duration, so a 60 ms frame is
//! processed as six blocks and the delay does not grow with the frame size.
//!
//! The filter is linear-phase, so its delay is a whole number of samples: half a block of
//! output ([`StreamResampler::delay_out_samples`]). With 10 ms blocks that is 5 ms in each
//! direction, 10 ms for the 48 k → 8 k → 48 k round trip.

use rubato::{FftFixedInOut, Resampler as _};

use super::CodecError;

/// Duration of one resampler block. Every supported frame duration is a multiple of it.
pub const BLOCK_MS: u32 = 10;

/// One direction of fixed-ratio streaming resampling with its state kept across calls.
pub struct StreamResampler {
    inner: FftFixedInOut<f32>,
    block_in: usize,
    block_out: usize,
    stage: &'static str,
    out: Vec<Vec<f32>>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("stage", &self.stage)
            .field("block_in", &self.block_in)
            .field("block_out", &self.block_out)
            .finish()
    }
}

impl StreamResampler {
    /// A resampler from `rate_in` to `rate_out` (Hz) working on [`BLOCK_MS`] blocks.
    pub fn new(rate_in: u32, rate_out: u32) -> Result<StreamResampler, CodecError> {
        let stage = match (rate_in, rate_out) {
            (48_000, 8_000) => "48 kHz -> 8 kHz",
            (8_000, 48_000) => "8 kHz -> 48 kHz",
            _ => "custom rate",
        };
        let block_in = (rate_in * BLOCK_MS / 1000) as usize;
        let inner = FftFixedInOut::<f32>::new(rate_in as usize, rate_out as usize, block_in, 1)
            .map_err(|e| CodecError::Resampler { stage, message: e.to_string() })?;
        let (got_in, block_out) = (inner.input_frames_next(), inner.output_frames_next());
        if got_in != block_in || block_out != (rate_out * BLOCK_MS / 1000) as usize {
            return Err(CodecError::Resampler {
                stage,
                message: format!(
                    "rubato chose blocks of {got_in} -> {block_out} samples, expected {block_in} -> {}",
                    rate_out * BLOCK_MS / 1000
                ),
            });
        }
        Ok(StreamResampler { inner, block_in, block_out, stage, out: vec![vec![0.0; block_out]] })
    }

    /// 48 kHz → 8 kHz (the G.711 encoder side).
    pub fn down_48k_to_8k() -> Result<StreamResampler, CodecError> {
        StreamResampler::new(48_000, 8_000)
    }

    /// 8 kHz → 48 kHz (the G.711 decoder side).
    pub fn up_8k_to_48k() -> Result<StreamResampler, CodecError> {
        StreamResampler::new(8_000, 48_000)
    }

    /// Input samples per block.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Output samples per block.
    pub fn block_out(&self) -> usize {
        self.block_out
    }

    /// Group delay of the filter, in output samples: an impulse at input sample 0 peaks at
    /// output sample `delay_out_samples()`.
    pub fn delay_out_samples(&self) -> usize {
        self.inner.output_delay()
    }

    /// Resamples `input`, whose length must be a whole number of blocks, continuing the
    /// stream from the previous call.
    pub fn process(&mut self, input: &[f32]) -> Result<Vec<f32>, CodecError> {
        if !input.len().is_multiple_of(self.block_in) {
            return Err(CodecError::Resampler {
                stage: self.stage,
                message: format!(
                    "input of {} samples is not a whole number of {}-sample blocks",
                    input.len(),
                    self.block_in
                ),
            });
        }
        let mut result = Vec::with_capacity(input.len() / self.block_in * self.block_out);
        for block in input.chunks_exact(self.block_in) {
            let (_, written) = self
                .inner
                .process_into_buffer(&[block], &mut self.out, None)
                .map_err(|e| CodecError::Resampler { stage: self.stage, message: e.to_string() })?;
            result.extend_from_slice(&self.out[0][..written]);
        }
        Ok(result)
    }
}

/// Rounds and saturates a resampled sample back to 16-bit PCM.
pub fn to_i16(x: f32) -> i16 {
    x.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<f32> {
        (0..n).map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32).collect()
    }

    /// Gain (dB) of a tone through down+up, measured by projection after the known delay.
    fn round_trip_gain_db(freq: f64) -> f64 {
        let mut down = StreamResampler::down_48k_to_8k().unwrap();
        let mut up = StreamResampler::up_8k_to_48k().unwrap();
        let x = tone(freq, 48_000, 48_000, 10_000.0);
        let y = up.process(&down.process(&x).unwrap()).unwrap();
        let d = down.delay_out_samples() * 6 + up.delay_out_samples();
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for i in 9_600..40_000 {
            num += (y[i + d] as f64).powi(2);
            den += (x[i] as f64).powi(2);
        }
        10.0 * (num / den).log10()
    }

    #[test]
    fn block_sizes_and_delays() {
        let down = StreamResampler::down_48k_to_8k().unwrap();
        let up = StreamResampler::up_8k_to_48k().unwrap();
        assert_eq!((down.block_in(), down.block_out()), (480, 80));
        assert_eq!((up.block_in(), up.block_out()), (80, 480));
        assert_eq!(down.delay_out_samples(), 40);
        assert_eq!(up.delay_out_samples(), 240);
    }

    #[test]
    fn rejects_partial_blocks() {
        let mut down = StreamResampler::down_48k_to_8k().unwrap();
        let err = down.process(&[0.0; 500]).unwrap_err().to_string();
        assert!(err.contains("500") && err.contains("480"), "{err}");
    }

    #[test]
    fn passband_is_flat_and_stopband_rejected() {
        for f in [200.0, 440.0, 1000.0, 2000.0, 2500.0, 3000.0, 3400.0, 3800.0, 5000.0, 7000.0] {
            eprintln!("{f} Hz: {:.2} dB", round_trip_gain_db(f));
        }
        for f in [300.0, 440.0, 1000.0, 2000.0, 2500.0] {
            let g = round_trip_gain_db(f);
            assert!(g.abs() < 0.1, "{f} Hz: {g:.3} dB");
        }
        // Content above 4 kHz cannot survive 8 kHz sampling; it must be filtered, not aliased.
        for f in [5000.0, 7000.0, 12_000.0] {
            let g = round_trip_gain_db(f);
            assert!(g < -60.0, "{f} Hz: {g:.1} dB");
        }
    }
}
