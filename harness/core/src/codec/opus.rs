//! Opus through libopus (the `opus` crate, bundled libopus 1.6.1): 48 kHz mono, VoIP
//! application, voice signal hint.
//!
//! ## Knowing whether a packet carries in-band FEC
//! The `opus` crate does not expose libopus's `opus_packet_has_lbrr`, so [`packet_has_lbrr`]
//! reads the flag from the packet itself, following RFC 6716:
//! - The TOC byte's configuration (§3.1) gives the mode: configurations 0–11 are SILK-only,
//!   12–15 hybrid, 16–31 CELT-only. CELT-only frames have no SILK layer and so no LBRR.
//! - In SILK and hybrid frames the SILK layer comes first and begins with its header bits
//!   (§4.2.3): one VAD flag per 20 ms SILK frame in the Opus frame (1 for 10 and 20 ms, 2 for
//!   40 ms, 3 for 60 ms), then the LBRR flag; for stereo a second set follows for the side
//!   channel. They are the first symbols the range decoder reads and each is coded with
//!   probability ½, so (as §4.2.3 notes) they are simply the most significant bits of the
//!   frame's first byte: the LBRR flag of the mid channel is bit `7 − n_silk_frames`.
//! - FEC recovery decodes the LBRR of the *first* Opus frame of the packet
//!   (`opus::packet::parse`, i.e. libopus's `opus_packet_parse`, splits the packet into frames),
//!   so that frame's flag is the one that matters.
//!
//! libopus also falls back to plain concealment when the decoder's previous frame was
//! CELT-only or when the packet's frames are longer than the frame to recover, so
//! [`OpusDecoder::decode_fec`] reports `None` in those cases too.
//!
//! The integration tests (`tests/codec.rs`) compare this parser with libopus's own
//! `opus_packet_has_lbrr` (present in the statically linked libopus, not exposed by the crate)
//! on about 2400 packets over bitrates, frame sizes, FEC on/off and stereo, and check that a
//! flagged packet makes `decode(fec = 1)` differ from plain concealment.
//!
//! Hybrid 40 and 60 ms packets are several 20 ms Opus frames, and FEC then recovers only the
//! last 20 ms of the lost packet (libopus conceals the rest); SILK-only 40/60 ms frames carry
//! LBRR for the whole frame.

use ::opus::{Application, Bitrate, Channels, FrameSize, Signal};

use super::{CodecError, CodecSettings, FrameMs, SAMPLE_RATE};

/// Largest packet we ask libopus for: 60 ms at 510 kbit/s is 3825 bytes.
const MAX_PACKET: usize = 4000;
/// Longest Opus packet (120 ms) at 48 kHz, the decode buffer.
const MAX_FRAME_SAMPLES: usize = 5760;

fn opus_err(call: impl Into<String>) -> impl FnOnce(::opus::Error) -> CodecError {
    let call = call.into();
    move |source| CodecError::Opus { call, source }
}

/// Mode of an Opus packet from its TOC byte (RFC 6716 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Silk,
    Hybrid,
    Celt,
}

impl Mode {
    pub fn of_toc(toc: u8) -> Mode {
        match toc >> 3 {
            0..=11 => Mode::Silk,
            12..=15 => Mode::Hybrid,
            _ => Mode::Celt,
        }
    }
}

/// Duration of each Opus frame of the packet with this TOC byte, in 48 kHz samples.
pub fn frame_samples_of_toc(toc: u8) -> usize {
    let config = toc >> 3;
    match config {
        0..=11 => [480, 960, 1920, 2880][(config % 4) as usize],
        12..=15 => [480, 960][(config % 2) as usize],
        _ => [120, 240, 480, 960][(config % 4) as usize],
    }
}

/// Whether `packet`'s first Opus frame carries SILK LBRR (in-band FEC) data for the frame
/// before it. See the module documentation for how it is read.
pub fn packet_has_lbrr(packet: &[u8]) -> bool {
    let Some(&toc) = packet.first() else { return false };
    if Mode::of_toc(toc) == Mode::Celt {
        return false;
    }
    let Ok(parsed) = ::opus::packet::parse(packet) else { return false };
    let Some(&first) = parsed.frames.first().and_then(|f| f.first()) else { return false };
    let silk_frames = (frame_samples_of_toc(toc) / 960).max(1) as u32;
    let mid = (first >> (7 - silk_frames)) & 1 == 1;
    let stereo = toc & 0x04 != 0;
    let side = stereo && (first >> (6 - 2 * silk_frames)) & 1 == 1;
    mid || side
}

/// Encoder half of the Opus path.
#[derive(Debug)]
pub struct OpusEncoder {
    enc: ::opus::Encoder,
    lookahead: usize,
}

impl OpusEncoder {
    pub fn new(s: &CodecSettings) -> Result<OpusEncoder, CodecError> {
        let mut enc = ::opus::Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)
            .map_err(opus_err("opus_encoder_create(48000 Hz, mono, OPUS_APPLICATION_VOIP)"))?;
        enc.set_signal(Signal::Voice).map_err(opus_err("OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)"))?;
        enc.set_bitrate(Bitrate::Bits(s.bitrate_bps as i32))
            .map_err(opus_err(format!("OPUS_SET_BITRATE({})", s.bitrate_bps)))?;
        enc.set_complexity(s.complexity as i32).map_err(opus_err(format!("OPUS_SET_COMPLEXITY({})", s.complexity)))?;
        enc.set_inband_fec(s.fec).map_err(opus_err(format!("OPUS_SET_INBAND_FEC({})", s.fec as i32)))?;
        enc.set_packet_loss_perc(s.expected_loss_percent as i32)
            .map_err(opus_err(format!("OPUS_SET_PACKET_LOSS_PERC({})", s.expected_loss_percent)))?;
        enc.set_dtx(s.dtx).map_err(opus_err(format!("OPUS_SET_DTX({})", s.dtx as i32)))?;
        let duration = match s.frame_ms {
            FrameMs::Ms10 => FrameSize::Ms10,
            FrameMs::Ms20 => FrameSize::Ms20,
            FrameMs::Ms40 => FrameSize::Ms40,
            FrameMs::Ms60 => FrameSize::Ms60,
        };
        enc.set_expert_frame_duration(duration)
            .map_err(opus_err(format!("OPUS_SET_EXPERT_FRAME_DURATION({} ms)", s.frame_ms.millis())))?;
        let lookahead = enc.get_lookahead().map_err(opus_err("OPUS_GET_LOOKAHEAD"))?;
        Ok(OpusEncoder { enc, lookahead: lookahead.max(0) as usize })
    }

    /// Encodes one frame (length already checked); returns the packet and whether it is a
    /// DTX frame that is not to be sent.
    ///
    /// `OPUS_GET_IN_DTX` is also true for the comfort-noise update frames libopus emits every
    /// 400 ms during DTX (about 20 bytes at 24 kbit/s), which a WebRTC sender does transmit:
    /// libwebrtc drops exactly the packets of at most 2 bytes. So a frame counts as DTX when
    /// libopus reports DTX *and* the packet is at most 2 bytes.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<(Vec<u8>, bool), CodecError> {
        let payload =
            self.enc.encode_vec(pcm, MAX_PACKET).map_err(opus_err(format!("opus_encode({} samples)", pcm.len())))?;
        let in_dtx = self.enc.get_in_dtx().map_err(opus_err("OPUS_GET_IN_DTX"))?;
        let dtx = in_dtx && payload.len() <= 2;
        Ok((payload, dtx))
    }

    /// `OPUS_GET_LOOKAHEAD` at 48 kHz.
    pub fn lookahead(&self) -> usize {
        self.lookahead
    }
}

/// Decoder half of the Opus path.
#[derive(Debug)]
pub struct OpusDecoder {
    dec: ::opus::Decoder,
    frame_samples: usize,
    frame_ms: u32,
    lookahead: usize,
    /// Mode of the last packet decoded (libopus will not use FEC after a CELT-only frame).
    last_mode: Option<Mode>,
}

impl OpusDecoder {
    pub fn new(s: &CodecSettings) -> Result<OpusDecoder, CodecError> {
        let dec = ::opus::Decoder::new(SAMPLE_RATE, Channels::Mono)
            .map_err(opus_err("opus_decoder_create(48000 Hz, mono)"))?;
        // The decoder adds no delay of its own beyond what the encoder's lookahead accounts
        // for; ask an encoder configured the same way for it.
        let lookahead = OpusEncoder::new(s)?.lookahead();
        Ok(OpusDecoder {
            dec,
            frame_samples: s.frame_samples(),
            frame_ms: s.frame_ms.millis(),
            lookahead,
            last_mode: None,
        })
    }

    pub fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::EmptyPayload { codec: super::Codec::Opus });
        }
        let mut out = vec![0i16; MAX_FRAME_SAMPLES];
        let n = self
            .dec
            .decode(payload, &mut out, false)
            .map_err(opus_err(format!("opus_decode({} bytes)", payload.len())))?;
        self.last_mode = Some(Mode::of_toc(payload[0]));
        if n != self.frame_samples {
            return Err(CodecError::FrameDuration { got: n, expected: self.frame_samples, frame_ms: self.frame_ms });
        }
        out.truncate(n);
        Ok(out)
    }

    pub fn conceal(&mut self) -> Vec<i16> {
        let mut out = vec![0i16; self.frame_samples];
        // Concealment (no packet) cannot fail on a valid decoder; should it, silence is the
        // honest output.
        if self.dec.decode(&[], &mut out, false).is_err() {
            out.iter_mut().for_each(|v| *v = 0);
        }
        out
    }

    pub fn decode_fec(&mut self, next_payload: &[u8]) -> Result<Option<Vec<i16>>, CodecError> {
        let Some(&toc) = next_payload.first() else { return Ok(None) };
        if !packet_has_lbrr(next_payload)
            || self.last_mode == Some(Mode::Celt)
            || frame_samples_of_toc(toc) > self.frame_samples
        {
            return Ok(None);
        }
        let mut out = vec![0i16; self.frame_samples];
        let n = self
            .dec
            .decode(next_payload, &mut out, true)
            .map_err(opus_err(format!("opus_decode({} bytes, decode_fec=1)", next_payload.len())))?;
        if n != self.frame_samples {
            return Err(CodecError::FrameDuration { got: n, expected: self.frame_samples, frame_ms: self.frame_ms });
        }
        Ok(Some(out))
    }

    pub fn algorithmic_delay_samples(&self) -> usize {
        self.lookahead
    }
}

/// The libopus version string, e.g. "libopus 1.6.1".
pub fn libopus_version() -> String {
    ::opus::version().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toc_modes_and_durations() {
        // config 1: SILK NB 20 ms; config 13: hybrid SWB 20 ms; config 31: CELT FB 20 ms.
        assert_eq!((Mode::of_toc(1 << 3), frame_samples_of_toc(1 << 3)), (Mode::Silk, 960));
        assert_eq!((Mode::of_toc(11 << 3), frame_samples_of_toc(11 << 3)), (Mode::Silk, 2880));
        assert_eq!((Mode::of_toc(13 << 3), frame_samples_of_toc(13 << 3)), (Mode::Hybrid, 960));
        assert_eq!((Mode::of_toc(31 << 3), frame_samples_of_toc(31 << 3)), (Mode::Celt, 960));
    }

    #[test]
    fn lbrr_flag_position() {
        // SILK WB 20 ms (config 9), code 0: VAD bit then LBRR bit.
        assert!(packet_has_lbrr(&[9 << 3, 0b0100_0000, 0]));
        assert!(!packet_has_lbrr(&[9 << 3, 0b1011_1111, 0]));
        // SILK WB 60 ms (config 11): three VAD bits, then LBRR at bit 4.
        assert!(packet_has_lbrr(&[11 << 3, 0b0001_0000, 0]));
        assert!(!packet_has_lbrr(&[11 << 3, 0b1110_1111, 0]));
        // Stereo 20 ms: mid VAD, mid LBRR, side VAD, side LBRR.
        assert!(packet_has_lbrr(&[9 << 3 | 0x04, 0b0001_0000, 0]));
        // CELT-only never; a TOC-only (DTX) packet has no frame data.
        assert!(!packet_has_lbrr(&[31 << 3, 0xFF, 0xFF]));
        assert!(!packet_has_lbrr(&[9 << 3]));
        assert!(!packet_has_lbrr(&[]));
    }
}
