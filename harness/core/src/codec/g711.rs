//! G.711 μ-law (PCMU) and A-law (PCMA) per ITU-T G.711, computed from the segment
//! (companding) arithmetic, plus the 48 kHz frame encoder and decoder of the G.711 path.
//!
//! ## Companding
//! Both laws code a sign bit, a 3-bit segment (exponent) and a 4-bit step within the segment
//! (mantissa). The segments double in width; inside a segment the 16 steps are uniform.
//!
//! - **μ-law** works on 14-bit linear samples (−8192..=8191). The magnitude is clipped to 8158
//!   and biased by 33, so segment `s` holds biased magnitudes in `[32·2^s, 64·2^s)` with a step
//!   of `2^(s+1)`: decision thresholds 0, 1, 3, …, 31, 35, …, 8159. The reconstruction level is
//!   the middle of the step, `((2·m + 33) << s) − 33`, so segment 0 decodes to 0, 2, …, 30.
//!   The code is transmitted inverted (all bits), so silence is 0xFF. Negative samples use the
//!   magnitude of the sample; the two codes 0xFF (+0) and 0x7F (−0) both decode to 0, and 0x7F
//!   is the only code that does not survive `encode(decode(code))` (it comes back as 0xFF).
//! - **A-law** works on 13-bit linear samples (−4096..=4095). Segments 0 and 1 both have a
//!   step of 2 (magnitudes 0..=31 and 32..=63), segment `s ≥ 1` covers `[16·2^s, 32·2^s)` with
//!   a step of `2^s`. A-law is a mid-riser: reconstruction levels are the step midpoints
//!   (±1, ±3, …, ±4032), there is no zero level, and negative samples map with the ones'
//!   complement (−1 and −2 share the step of +0 and +1 mirrored) so the quantiser is exactly
//!   symmetric. The sign bit is 1 for positive samples and the even bits are inverted
//!   (XOR 0x55), so silence is 0xD5. All 256 codes are distinct levels.
//!
//! 16-bit PCM is reduced to the law's width by an arithmetic shift (2 bits for μ-law, 3 for
//! A-law) and expanded back by the same shift.
//!
//! ## Frame path
//! [`G711Encoder`] resamples one 48 kHz frame to 8 kHz ([`super::resample`]) and compands it:
//! one byte per 8 kHz sample. [`G711Decoder`] expands the bytes, runs them through the packet
//! loss concealment of [`super::g711_plc`] (which also delays them by its 3.75 ms look-back),
//! and resamples to 48 kHz.

use super::g711_plc::G711Plc;
use super::resample::{StreamResampler, to_i16};
use super::{Codec, CodecError, CodecSettings};

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// μ-law (PCMU, RTP payload type 0).
    Mu,
    /// A-law (PCMA, RTP payload type 8).
    A,
}

impl Law {
    /// Compands one 16-bit sample.
    pub fn encode(self, pcm: i16) -> u8 {
        match self {
            Law::Mu => ulaw_from_linear14(pcm >> 2),
            Law::A => alaw_from_linear13(pcm >> 3),
        }
    }

    /// Expands one code to 16-bit PCM.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Mu => ulaw_to_linear14(code) << 2,
            Law::A => alaw_to_linear13(code) << 3,
        }
    }

    /// The law of a G.711 codec, `None` for Opus.
    pub fn of(codec: Codec) -> Option<Law> {
        match codec {
            Codec::Pcmu => Some(Law::Mu),
            Codec::Pcma => Some(Law::A),
            Codec::Opus => None,
        }
    }
}

/// Largest μ-law magnitude before the bias (8158 + 33 = 8191 = 2^13 − 1).
const ULAW_CLIP: i32 = 8158;
const ULAW_BIAS: i32 = 33;

/// Index of the highest set bit (`v > 0`).
fn top_bit(v: i32) -> u32 {
    31 - (v as u32).leading_zeros()
}

/// μ-law code of a 14-bit linear sample (values outside −8192..=8191 saturate).
pub fn ulaw_from_linear14(x: i16) -> u8 {
    let x = x as i32;
    // Before the final inversion the sign bit is set for negative samples.
    let sign: u8 = if x < 0 { 0x80 } else { 0x00 };
    let biased = x.abs().min(ULAW_CLIP) + ULAW_BIAS; // 33..=8191
    let segment = top_bit(biased) - 5; // 0..=7
    let mantissa = ((biased >> (segment + 1)) & 0x0F) as u8;
    !(sign | (segment as u8) << 4 | mantissa)
}

/// 14-bit linear value of a μ-law code.
pub fn ulaw_to_linear14(code: u8) -> i16 {
    let c = !code;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = ((2 * mantissa + ULAW_BIAS) << segment) - ULAW_BIAS;
    (if c & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// A-law code of a 13-bit linear sample (values outside −4096..=4095 saturate).
pub fn alaw_from_linear13(x: i16) -> u8 {
    let x = (x as i32).clamp(-4096, 4095);
    // Mid-riser: a negative sample x lies in the mirrored step of magnitude −x − 1.
    let (sign, magnitude) = if x >= 0 { (0x80u8, x) } else { (0x00u8, !x) };
    let (segment, mantissa) = if magnitude < 32 {
        (0u32, magnitude >> 1)
    } else {
        let segment = top_bit(magnitude) - 4; // 1..=7
        (segment, (magnitude >> segment) & 0x0F)
    };
    (sign | (segment as u8) << 4 | mantissa as u8) ^ 0x55
}

/// 13-bit linear value of an A-law code.
pub fn alaw_to_linear13(code: u8) -> i16 {
    let c = code ^ 0x55;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let magnitude = if segment == 0 { 2 * mantissa + 1 } else { (2 * mantissa + 33) << (segment - 1) };
    (if c & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// Quantisation step (in the law's linear units) of the segment that `code` belongs to.
pub fn step_of_code(law: Law, code: u8) -> i32 {
    match law {
        Law::Mu => 2 << ((!code >> 4) & 0x07),
        Law::A => {
            let segment = ((code ^ 0x55) >> 4) & 0x07;
            if segment == 0 { 2 } else { 1 << segment }
        }
    }
}

/// 8 kHz samples in one frame of `s`.
fn samples_8k(s: &CodecSettings) -> usize {
    (8 * s.frame_ms.millis()) as usize
}

/// G.711 frame encoder: 48 kHz PCM in, one companded byte per 8 kHz sample out.
#[derive(Debug)]
pub struct G711Encoder {
    law: Law,
    down: StreamResampler,
    codec: Codec,
}

impl G711Encoder {
    pub fn new(s: &CodecSettings) -> Result<G711Encoder, CodecError> {
        let law = Law::of(s.codec).ok_or(CodecError::InvalidSetting {
            field: "codec",
            value: s.codec.to_string(),
            expected: "PCMU or PCMA for the G.711 encoder".into(),
        })?;
        Ok(G711Encoder { law, down: StreamResampler::down_48k_to_8k()?, codec: s.codec })
    }

    /// `pcm` has already been checked to be one frame long.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        let input: Vec<f32> = pcm.iter().map(|&v| v as f32).collect();
        let narrow = self.down.process(&input)?;
        Ok(narrow.into_iter().map(|v| self.law.encode(to_i16(v))).collect())
    }

    /// Delay of the 48 → 8 kHz filter, in 48 kHz samples.
    pub fn delay_samples_48k(&self) -> usize {
        self.down.delay_out_samples() * 6
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }
}

/// G.711 frame decoder: bytes in, concealment, 48 kHz PCM out.
#[derive(Debug)]
pub struct G711Decoder {
    law: Law,
    codec: Codec,
    frame_ms: u32,
    samples_8k: usize,
    plc: G711Plc,
    up: StreamResampler,
    /// Delay of the encoder's 48 → 8 kHz filter, in 48 kHz samples.
    encoder_delay_48k: usize,
}

impl G711Decoder {
    pub fn new(s: &CodecSettings) -> Result<G711Decoder, CodecError> {
        let law = Law::of(s.codec).ok_or(CodecError::InvalidSetting {
            field: "codec",
            value: s.codec.to_string(),
            expected: "PCMU or PCMA for the G.711 decoder".into(),
        })?;
        let encoder_delay_48k = StreamResampler::down_48k_to_8k()?.delay_out_samples() * 6;
        Ok(G711Decoder {
            law,
            codec: s.codec,
            frame_ms: s.frame_ms.millis(),
            samples_8k: samples_8k(s),
            plc: G711Plc::new(),
            up: StreamResampler::up_8k_to_48k()?,
            encoder_delay_48k,
        })
    }

    pub fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::EmptyPayload { codec: self.codec });
        }
        if payload.len() != self.samples_8k {
            return Err(CodecError::PayloadLength {
                codec: self.codec,
                got: payload.len(),
                expected: self.samples_8k,
                frame_ms: self.frame_ms,
            });
        }
        let narrow: Vec<i16> = payload.iter().map(|&c| self.law.decode(c)).collect();
        let out = self.plc.good_frame(&narrow);
        self.upsample(&out)
    }

    pub fn conceal(&mut self) -> Vec<i16> {
        let out = self.plc.lost_frame(self.samples_8k);
        // The block size always divides the frame, so upsampling a frame cannot fail.
        self.upsample(&out).unwrap_or_else(|_| vec![0; self.samples_8k * 6])
    }

    fn upsample(&mut self, narrow: &[i16]) -> Result<Vec<i16>, CodecError> {
        let input: Vec<f32> = narrow.iter().map(|&v| v as f32).collect();
        Ok(self.up.process(&input)?.into_iter().map(to_i16).collect())
    }

    /// Encoder filter + concealment look-back + decoder filter, in 48 kHz samples.
    pub fn algorithmic_delay_samples(&self) -> usize {
        self.encoder_delay_48k + G711Plc::DELAY_SAMPLES * 6 + self.up.delay_out_samples()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes() {
        assert_eq!(ulaw_from_linear14(0), 0xFF);
        assert_eq!(alaw_from_linear13(0), 0xD5);
        assert_eq!(ulaw_to_linear14(0xFF), 0);
        assert_eq!(ulaw_to_linear14(0x7F), 0);
        assert_eq!(alaw_to_linear13(0xD5), 1);
        assert_eq!(alaw_to_linear13(0x55), -1);
    }

    #[test]
    fn extremes_saturate() {
        assert_eq!(ulaw_to_linear14(ulaw_from_linear14(8191)), 8031);
        assert_eq!(ulaw_to_linear14(ulaw_from_linear14(-8192)), -8031);
        assert_eq!(ulaw_from_linear14(8191), 0x80);
        assert_eq!(ulaw_from_linear14(-8192), 0x00);
        assert_eq!(alaw_to_linear13(alaw_from_linear13(4095)), 4032);
        assert_eq!(alaw_to_linear13(alaw_from_linear13(-4096)), -4032);
        assert_eq!(Law::Mu.decode(Law::Mu.encode(i16::MIN)), -8031 * 4);
        assert_eq!(Law::A.decode(Law::A.encode(i16::MAX)), 4032 * 8);
    }

    /// Decision thresholds of G.711 Table 1 (μ-law): the first input of each segment.
    #[test]
    fn ulaw_segment_edges() {
        let edges = [0, 31, 95, 223, 479, 991, 2015, 4063];
        for (seg, &edge) in edges.iter().enumerate() {
            let code = !ulaw_from_linear14(edge);
            assert_eq!((code >> 4) & 7, seg as u8, "input {edge}");
            assert_eq!(code & 0x0F, 0, "input {edge}");
            if edge > 0 {
                let below = !ulaw_from_linear14(edge - 1);
                assert_eq!((below >> 4) & 7, seg as u8 - 1, "input {}", edge - 1);
            }
        }
    }

    /// Segment edges of A-law: 0, 32, 64, 128, …, 2048.
    #[test]
    fn alaw_segment_edges() {
        let edges = [0, 32, 64, 128, 256, 512, 1024, 2048];
        for (seg, &edge) in edges.iter().enumerate() {
            let code = alaw_from_linear13(edge) ^ 0x55;
            assert_eq!(((code >> 4) & 7, code & 0x0F), (seg as u8, 0), "input {edge}");
            // Mirrored for negative inputs: −1 − edge starts the same segment.
            let neg = alaw_from_linear13(-1 - edge) ^ 0x55;
            assert_eq!(((neg >> 4) & 7, neg & 0x0F, neg & 0x80), (seg as u8, 0, 0), "input {}", -1 - edge);
        }
    }
}
