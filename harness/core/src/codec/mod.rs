//! Audio codecs: Opus (libopus) and G.711, all at 48 kHz PCM at the edges.
//!
//! Every [`Encoder`] takes one frame of 48 kHz mono 16-bit PCM and every [`Decoder`] returns
//! one. Inside, Opus runs at 48 kHz ([`opus`]); G.711 resamples to and from 8 kHz
//! ([`resample`]), compands ([`g711`]) and conceals lost frames ([`g711_plc`]).
//!
//! A lost frame is handled by the caller in one of two ways: if the next packet has arrived,
//! [`Decoder::decode_fec`] may recover the lost frame from it (Opus in-band FEC), after which
//! the next packet is decoded normally; otherwise (or when `decode_fec` returns `None`)
//! [`Decoder::conceal`] produces one frame of concealment.

pub mod g711;
pub mod g711_plc;
pub mod opus;
pub mod resample;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Sample rate of all PCM at the edges of the codecs.
pub const SAMPLE_RATE: u32 = 48_000;

/// The codecs the harness can put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Opus,
    Pcmu,
    Pcma,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Codec::Opus => "Opus",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        })
    }
}

/// Frame (packet) duration. Serialises as, and deserialises from, the integer number of
/// milliseconds: 10, 20, 40 or 60.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum FrameMs {
    Ms10,
    Ms20,
    Ms40,
    Ms60,
}

impl FrameMs {
    pub const ALL: [FrameMs; 4] = [FrameMs::Ms10, FrameMs::Ms20, FrameMs::Ms40, FrameMs::Ms60];

    pub fn millis(self) -> u32 {
        match self {
            FrameMs::Ms10 => 10,
            FrameMs::Ms20 => 20,
            FrameMs::Ms40 => 40,
            FrameMs::Ms60 => 60,
        }
    }
}

/// A frame duration that is not one of 10, 20, 40, 60 ms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame_ms = {0} is not supported; allowed values are 10, 20, 40 and 60 (milliseconds)")]
pub struct UnsupportedFrameMs(pub u32);

impl TryFrom<u32> for FrameMs {
    type Error = UnsupportedFrameMs;
    fn try_from(ms: u32) -> Result<FrameMs, UnsupportedFrameMs> {
        FrameMs::ALL.into_iter().find(|f| f.millis() == ms).ok_or(UnsupportedFrameMs(ms))
    }
}

impl From<FrameMs> for u32 {
    fn from(f: FrameMs) -> u32 {
        f.millis()
    }
}

fn default_bitrate_bps() -> u32 {
    24_000
}

fn default_complexity() -> u8 {
    9
}

/// How to encode one direction of audio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecSettings {
    pub codec: Codec,
    pub frame_ms: FrameMs,
    /// Target bitrate, Opus only (G.711 is always 64 kbit/s; the field is ignored there).
    #[serde(default = "default_bitrate_bps")]
    pub bitrate_bps: u32,
    /// Opus in-band FEC (SILK LBRR). libopus only emits it when `expected_loss_percent > 0`
    /// too, and only when the bitrate leaves room for it (none at 16 kbit/s, 20 ms frames).
    #[serde(default)]
    pub fec: bool,
    /// `OPUS_SET_PACKET_LOSS_PERC`: the loss rate the Opus encoder should plan for.
    #[serde(default)]
    pub expected_loss_percent: u8,
    /// Opus discontinuous transmission.
    #[serde(default)]
    pub dtx: bool,
    /// Opus encoder complexity, 0..=10 (ignored by G.711).
    #[serde(default = "default_complexity")]
    pub complexity: u8,
}

impl CodecSettings {
    /// Settings with every optional field at its default (24 kbit/s, no FEC, no DTX,
    /// complexity 9).
    pub fn new(codec: Codec, frame_ms: FrameMs) -> CodecSettings {
        CodecSettings {
            codec,
            frame_ms,
            bitrate_bps: default_bitrate_bps(),
            fec: false,
            expected_loss_percent: 0,
            dtx: false,
            complexity: default_complexity(),
        }
    }

    /// Checks the settings against the codec; the error names the offending field.
    pub fn validate(&self) -> Result<(), CodecError> {
        let invalid = |field: &'static str, value: String, expected: String| {
            Err(CodecError::InvalidSetting { field, value, expected })
        };
        if self.expected_loss_percent > 100 {
            return invalid(
                "expected_loss_percent",
                self.expected_loss_percent.to_string(),
                "a percentage in 0..=100".into(),
            );
        }
        match self.codec {
            Codec::Opus => {
                if !(6_000..=510_000).contains(&self.bitrate_bps) {
                    return invalid(
                        "bitrate_bps",
                        self.bitrate_bps.to_string(),
                        "Opus bitrates are 6000..=510000 bit/s".into(),
                    );
                }
                if self.complexity > 10 {
                    return invalid("complexity", self.complexity.to_string(), "Opus complexity is 0..=10".into());
                }
            }
            Codec::Pcmu | Codec::Pcma => {
                let opus_only = |what: &str| format!("false/0: {what} is Opus only, {} has none", self.codec);
                if self.fec {
                    return invalid("fec", "true".into(), opus_only("in-band FEC"));
                }
                if self.dtx {
                    return invalid("dtx", "true".into(), opus_only("DTX"));
                }
                if self.expected_loss_percent != 0 {
                    return invalid(
                        "expected_loss_percent",
                        self.expected_loss_percent.to_string(),
                        opus_only("encoder loss adaptation (OPUS_SET_PACKET_LOSS_PERC)"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Samples per frame at 48 kHz: 480, 960, 1920 or 2880.
    pub fn frame_samples(&self) -> usize {
        (SAMPLE_RATE / 1000 * self.frame_ms.millis()) as usize
    }

    /// RTP clock rate: 48000 for Opus (RFC 7587), 8000 for G.711 (RFC 3551).
    pub fn rtp_clock_rate(&self) -> u32 {
        match self.codec {
            Codec::Opus => 48_000,
            Codec::Pcmu | Codec::Pcma => 8_000,
        }
    }

    /// RTP timestamp increment per frame, in the RTP clock.
    pub fn rtp_timestamp_step(&self) -> u32 {
        self.rtp_clock_rate() / 1000 * self.frame_ms.millis()
    }

    /// RTP payload type: 111 for Opus (WebRTC's customary dynamic type), 0 PCMU, 8 PCMA.
    pub fn payload_type(&self) -> u8 {
        match self.codec {
            Codec::Opus => 111,
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Media subtype as in SDP/WebRTC codec capabilities.
    pub fn mime(&self) -> &'static str {
        match self.codec {
            Codec::Opus => "audio/opus",
            Codec::Pcmu => "audio/PCMU",
            Codec::Pcma => "audio/PCMA",
        }
    }
}

/// Errors of codec configuration and use.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("codec setting `{field}` = {value} is invalid: expected {expected}")]
    InvalidSetting { field: &'static str, value: String, expected: String },
    #[error("{codec} encoder: input frame has {got} samples, expected {expected} ({frame_ms} ms at 48 kHz mono)")]
    InputLength { codec: Codec, got: usize, expected: usize, frame_ms: u32 },
    #[error("{codec} decoder: payload has {got} bytes, expected {expected} (one {frame_ms} ms frame)")]
    PayloadLength { codec: Codec, got: usize, expected: usize, frame_ms: u32 },
    #[error("{codec} decoder: empty payload; call conceal() for a lost frame")]
    EmptyPayload { codec: Codec },
    #[error(
        "Opus packet decoded to {got} samples at 48 kHz, but the stream is configured for {frame_ms} ms frames ({expected} samples)"
    )]
    FrameDuration { got: usize, expected: usize, frame_ms: u32 },
    #[error("libopus call {call} failed: {source}")]
    Opus {
        call: String,
        #[source]
        source: ::opus::Error,
    },
    #[error("resampler {stage}: {message}")]
    Resampler { stage: &'static str, message: String },
}

/// One encoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub payload: Vec<u8>,
    /// Opus reported being in DTX for this frame (`OPUS_GET_IN_DTX`) and the payload is a
    /// 1–2 byte packet, which a WebRTC sender does not send. The comfort-noise updates libopus
    /// emits every 400 ms during DTX also report DTX but are real packets (about 20 bytes) that
    /// are sent, so they have `dtx == false`. Always false for G.711.
    pub dtx: bool,
}

#[derive(Debug)]
enum EncoderKind {
    Opus(opus::OpusEncoder),
    G711(Box<g711::G711Encoder>),
}

/// Frame encoder for any [`Codec`].
#[derive(Debug)]
pub struct Encoder {
    kind: EncoderKind,
    codec: Codec,
    frame_samples: usize,
    frame_ms: u32,
}

impl Encoder {
    /// Validates `s` and builds the encoder. Opus: VoIP application, voice signal hint, and
    /// bitrate, complexity, FEC, expected loss, DTX and frame duration applied.
    pub fn new(s: &CodecSettings) -> Result<Encoder, CodecError> {
        s.validate()?;
        let kind = match s.codec {
            Codec::Opus => EncoderKind::Opus(opus::OpusEncoder::new(s)?),
            Codec::Pcmu | Codec::Pcma => EncoderKind::G711(Box::new(g711::G711Encoder::new(s)?)),
        };
        Ok(Encoder { kind, codec: s.codec, frame_samples: s.frame_samples(), frame_ms: s.frame_ms.millis() })
    }

    /// Encodes exactly one frame (`frame_samples()` samples at 48 kHz).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Encoded, CodecError> {
        if pcm.len() != self.frame_samples {
            return Err(CodecError::InputLength {
                codec: self.codec,
                got: pcm.len(),
                expected: self.frame_samples,
                frame_ms: self.frame_ms,
            });
        }
        match &mut self.kind {
            EncoderKind::Opus(e) => {
                let (payload, dtx) = e.encode(pcm)?;
                Ok(Encoded { payload, dtx })
            }
            EncoderKind::G711(e) => Ok(Encoded { payload: e.encode(pcm)?, dtx: false }),
        }
    }
}

#[derive(Debug)]
enum DecoderKind {
    Opus(opus::OpusDecoder),
    G711(Box<g711::G711Decoder>),
}

/// Frame decoder for any [`Codec`]; every call returns exactly one frame at 48 kHz.
#[derive(Debug)]
pub struct Decoder {
    kind: DecoderKind,
}

impl Decoder {
    pub fn new(s: &CodecSettings) -> Result<Decoder, CodecError> {
        s.validate()?;
        let kind = match s.codec {
            Codec::Opus => DecoderKind::Opus(opus::OpusDecoder::new(s)?),
            Codec::Pcmu | Codec::Pcma => DecoderKind::G711(Box::new(g711::G711Decoder::new(s)?)),
        };
        Ok(Decoder { kind })
    }

    /// Decodes one received packet into one frame. An empty payload is an error (a lost
    /// frame is [`Decoder::conceal`]ed instead); so is a packet of another duration.
    pub fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError> {
        match &mut self.kind {
            DecoderKind::Opus(d) => d.decode(payload),
            DecoderKind::G711(d) => d.decode(payload),
        }
    }

    /// Whether this decodes Opus (the codec with in-band FEC and DTX).
    pub fn is_opus(&self) -> bool {
        matches!(self.kind, DecoderKind::Opus(_))
    }

    /// One frame of packet loss concealment: libopus PLC, or the G.711 concealment of
    /// [`g711_plc`].
    pub fn conceal(&mut self) -> Vec<i16> {
        match &mut self.kind {
            DecoderKind::Opus(d) => d.conceal(),
            DecoderKind::G711(d) => d.conceal(),
        }
    }

    /// Recovers the lost frame *before* `next_payload` from the in-band FEC that
    /// `next_payload` carries, then the caller decodes `next_payload` normally.
    ///
    /// Returns `Ok(None)` — and leaves the decoder untouched, so the caller can count FEC
    /// recoveries honestly and fall back to [`Decoder::conceal`] — when the codec has no FEC
    /// (G.711) or the packet carries none. For Opus the packet is read for the SILK LBRR flag
    /// ([`opus::packet_has_lbrr`], parsed from the packet per RFC 6716 §4.2.3, since the
    /// `opus` crate does not expose `opus_packet_has_lbrr`); when it is set, libopus decodes
    /// the LBRR data with `decode_fec = 1` into a one-frame buffer.
    pub fn decode_fec(&mut self, next_payload: &[u8]) -> Result<Option<Vec<i16>>, CodecError> {
        match &mut self.kind {
            DecoderKind::Opus(d) => d.decode_fec(next_payload),
            DecoderKind::G711(_) => Ok(None),
        }
    }

    /// The codec's algorithmic delay at 48 kHz, encoder and decoder together: how far the
    /// decoded signal lags the encoded one, excluding the frame (packetisation) time. This is
    /// the codec floor of mouth-to-ear latency.
    /// - Opus: the encoder lookahead (`OPUS_GET_LOOKAHEAD`, 312 samples = 6.5 ms for VoIP).
    /// - G.711: the 48 → 8 kHz filter (240 samples), the concealment look-back (180) and the
    ///   8 → 48 kHz filter (240): 660 samples = 13.75 ms.
    pub fn algorithmic_delay_samples(&self) -> usize {
        match &self.kind {
            DecoderKind::Opus(d) => d.algorithmic_delay_samples(),
            DecoderKind::G711(d) => d.algorithmic_delay_samples(),
        }
    }
}

/// The version string of the linked libopus (for run metadata), e.g. "libopus 1.6.1".
pub fn libopus_version() -> String {
    opus::libopus_version()
}
