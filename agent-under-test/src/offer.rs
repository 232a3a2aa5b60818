//! First look at a WHIP offer: is it SDP, does it carry audio we can decode, can DTLS-SRTP be
//! keyed? Checked before a peer connection is built so a bad offer costs a parse, not a
//! socket, and the caller gets a 400 that says what to fix.

use std::io::Cursor;

use rtc::sdp::description::media::MediaDescription;
use rtc::sdp::description::session::SessionDescription;

/// Codecs the agent can decode and encode (lowercase SDP encoding names).
const SUPPORTED: [&str; 3] = ["opus", "pcmu", "pcma"];

/// An offer that passed [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The offer as received, for the peer connection.
    pub sdp: String,
    /// Every codec of the first `m=audio` section, in the offerer's order of preference.
    pub codecs: Vec<OfferedCodec>,
    /// `a=fingerprint` value (`<hash> <hex>`), media level if present, else session level.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedCodec {
    /// Lowercase encoding name: `opus`, `pcmu`, `pcma`, `g722`, `telephone-event`, …
    pub name: String,
    pub payload_type: u8,
    pub clock_rate: u32,
    pub channels: u16,
    /// `a=fmtp` parameters, verbatim (empty when none).
    pub fmtp: String,
}

impl OfferedCodec {
    /// Whether the agent can use this codec.
    pub fn is_supported(&self) -> bool {
        SUPPORTED.contains(&self.name.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    #[error("offer is not UTF-8 (invalid byte at offset {valid_up_to}): expected SDP text (application/sdp)")]
    NotUtf8 { valid_up_to: usize },
    #[error(
        "offer is not valid SDP ({location}): {message}; expected an RFC 8866 session description (v=0, o=, s=, t=, m= lines)"
    )]
    Malformed { location: String, message: String },
    #[error("offer has no m=audio line: the agent answers an audio section (Opus, PCMU or PCMA)")]
    NoAudio,
    #[error("offer's m=audio has no supported codec (offered: {offered}); expected Opus, PCMU or PCMA")]
    NoSupportedCodec { offered: String },
    #[error("offer has no a=fingerprint (session or media level): DTLS-SRTP needs one")]
    NoFingerprint,
}

/// [`validate`] for a request body, which may not be text at all.
pub fn validate_bytes(body: &[u8]) -> Result<Offer, OfferError> {
    let sdp = std::str::from_utf8(body).map_err(|e| OfferError::NotUtf8 { valid_up_to: e.valid_up_to() })?;
    validate(sdp)
}

/// Parses `sdp` and checks that it can be answered: an audio section, a codec in common and a
/// DTLS fingerprint.
pub fn validate(sdp: &str) -> Result<Offer, OfferError> {
    let parsed = parse(sdp)?;
    let audio = parsed.media_descriptions.iter().find(|m| m.media_name.media == "audio").ok_or(OfferError::NoAudio)?;
    let codecs = audio_codecs(audio)?;
    if !codecs.iter().any(OfferedCodec::is_supported) {
        return Err(OfferError::NoSupportedCodec { offered: describe(&codecs) });
    }
    let media_level = audio.attribute("fingerprint").flatten();
    let fingerprint = media_level
        .or(parsed.attribute("fingerprint").map(String::as_str))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or(OfferError::NoFingerprint)?;
    Ok(Offer { sdp: sdp.to_string(), codecs, fingerprint: fingerprint.to_string() })
}

/// Runs the rtc-sdp parser; on failure says where it stopped (the reader's position is just
/// past the offending line or key).
fn parse(sdp: &str) -> Result<SessionDescription, OfferError> {
    if sdp.trim().is_empty() {
        return Err(OfferError::Malformed { location: "empty body".into(), message: "no SDP lines".into() });
    }
    let mut reader = Cursor::new(sdp.as_bytes());
    SessionDescription::unmarshal(&mut reader).map_err(|e| {
        let consumed = usize::try_from(reader.position()).unwrap_or(usize::MAX).min(sdp.len());
        let location = if consumed >= sdp.trim_end().len() {
            "at the end of the offer".to_string()
        } else {
            let line = sdp.as_bytes()[..consumed.saturating_sub(1)].iter().filter(|&&b| b == b'\n').count() + 1;
            format!("at line {line}")
        };
        let message = match e {
            // The parser's way of saying it ran out of lines while still expecting one.
            rtc::shared::error::Error::SdpInvalidSyntax(token) if token.is_empty() => {
                "a required line is missing (v=, o=, s=, t= come first, in that order)".to_string()
            }
            e => e.to_string(),
        };
        OfferError::Malformed { location, message }
    })
}

/// The section's codecs in `m=` format order; static payload types 0 and 8 need no rtpmap.
fn audio_codecs(audio: &MediaDescription) -> Result<Vec<OfferedCodec>, OfferError> {
    let described = audio.codecs();
    audio
        .media_name
        .formats
        .iter()
        .map(|format| {
            let payload_type: u8 = format.parse().map_err(|_| OfferError::Malformed {
                location: "m=audio line".into(),
                message: format!("format {format:?} is not an RTP payload type (0-127)"),
            })?;
            let Some(codec) = described.get(&payload_type).filter(|c| !c.name.is_empty()) else {
                return Ok(static_codec(payload_type));
            };
            let channels = match codec.encoding_parameters.trim() {
                "" => 1,
                n => n.parse().map_err(|_| OfferError::Malformed {
                    location: format!("a=rtpmap:{payload_type}"),
                    message: format!("channel count {n:?} is not a number"),
                })?,
            };
            Ok(OfferedCodec {
                name: codec.name.to_ascii_lowercase(),
                payload_type,
                clock_rate: codec.clock_rate,
                channels,
                fmtp: codec.fmtp.clone(),
            })
        })
        .collect()
}

/// RFC 3551 static assignments the agent cares about; other unmapped types stay nameless.
fn static_codec(payload_type: u8) -> OfferedCodec {
    let (name, clock_rate) = match payload_type {
        0 => ("pcmu", 8000),
        8 => ("pcma", 8000),
        _ => ("", 0),
    };
    OfferedCodec { name: name.to_string(), payload_type, clock_rate, channels: 1, fmtp: String::new() }
}

fn describe(codecs: &[OfferedCodec]) -> String {
    if codecs.is_empty() {
        return "nothing".into();
    }
    let one = |c: &OfferedCodec| match c.name.as_str() {
        "" => format!("pt {} without rtpmap", c.payload_type),
        name => format!("{name}/{} pt {}", c.clock_rate, c.payload_type),
    };
    codecs.iter().map(one).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An audio-only offer as Chromium 131 sends it to a WHIP endpoint after ICE gathering.
    const CHROMIUM_OFFER: &str = "v=0\r
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0\r
a=extmap-allow-mixed\r
a=msid-semantic: WMS 6c1e0a5e-3d0b-4b59-9e0f-2f1a3d0c6b7e\r
m=audio 53915 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r
c=IN IP4 192.168.1.23\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=candidate:1467250027 1 udp 2122260223 192.168.1.23 53915 typ host generation 0 network-id 1 network-cost 10\r
a=candidate:435653019 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 network-id 1 network-cost 10\r
a=ice-ufrag:Hs7Q\r
a=ice-pwd:5pD1lX0s6Pz0Wn3GvCkUq7Ry\r
a=ice-options:trickle\r
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r
a=setup:actpass\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=sendrecv\r
a=msid:6c1e0a5e-3d0b-4b59-9e0f-2f1a3d0c6b7e 0b5d3f6e-7a2c-4c1d-8e9f-1a2b3c4d5e6f\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:111 opus/48000/2\r
a=rtcp-fb:111 transport-cc\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=rtpmap:63 red/48000/2\r
a=fmtp:63 111/111\r
a=rtpmap:9 G722/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:13 CN/8000\r
a=rtpmap:110 telephone-event/48000\r
a=rtpmap:126 telephone-event/8000\r
a=ssrc:2964523470 cname:Qw3rTy8uIoP1aS2d\r
a=ssrc:2964523470 msid:6c1e0a5e-3d0b-4b59-9e0f-2f1a3d0c6b7e 0b5d3f6e-7a2c-4c1d-8e9f-1a2b3c4d5e6f\r
";

    const FINGERPRINT: &str =
        "sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08";

    fn without_lines(sdp: &str, prefix: &str) -> String {
        sdp.split_inclusive('\n').filter(|l| !l.starts_with(prefix)).collect()
    }

    #[test]
    fn chromium_offer_is_accepted() {
        let offer = validate(CHROMIUM_OFFER).expect("valid offer");
        assert_eq!(offer.sdp, CHROMIUM_OFFER);
        assert_eq!(offer.fingerprint, FINGERPRINT);
        let names: Vec<_> = offer.codecs.iter().map(|c| (c.name.as_str(), c.payload_type)).collect();
        assert_eq!(
            names,
            [
                ("opus", 111),
                ("red", 63),
                ("g722", 9),
                ("pcmu", 0),
                ("pcma", 8),
                ("cn", 13),
                ("telephone-event", 110),
                ("telephone-event", 126)
            ]
        );
        let opus = &offer.codecs[0];
        assert_eq!((opus.clock_rate, opus.channels, opus.fmtp.as_str()), (48000, 2, "minptime=10;useinbandfec=1"));
        assert_eq!((offer.codecs[2].clock_rate, offer.codecs[2].channels), (8000, 1));
    }

    #[test]
    fn static_payload_types_need_no_rtpmap() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AA:BB\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 8 0\r\n";
        let offer = validate(sdp).expect("valid offer");
        let names: Vec<_> = offer.codecs.iter().map(|c| (c.name.as_str(), c.clock_rate)).collect();
        assert_eq!(names, [("pcma", 8000), ("pcmu", 8000)]);
        assert_eq!(offer.fingerprint, "sha-256 AA:BB", "session-level fingerprint is used");
    }

    #[test]
    fn non_utf8_is_rejected() {
        let err = validate_bytes(b"v=0\r\n\xff\xfe").unwrap_err();
        assert_eq!(err, OfferError::NotUtf8 { valid_up_to: 5 });
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn garbage_is_malformed_with_a_line_number() {
        let err = validate("hello, world").unwrap_err();
        assert!(matches!(err, OfferError::Malformed { .. }), "{err:?}");
        assert!(err.to_string().contains("hello, world"), "parser message included: {err}");

        let bad_line = CHROMIUM_OFFER.replacen("a=mid:0", "x=mid:0", 1);
        let err = validate(&bad_line).unwrap_err().to_string();
        assert!(err.contains("at line 18"), "{err}");
        assert!(err.contains("x="), "{err}");

        let err = validate("   \r\n").unwrap_err().to_string();
        assert!(err.contains("empty body"), "{err}");

        let truncated = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n";
        let err = validate(truncated).unwrap_err().to_string();
        assert!(err.contains("at the end of the offer") && err.contains("a required line is missing"), "{err}");
    }

    #[test]
    fn offer_without_audio_is_rejected() {
        let video = CHROMIUM_OFFER
            .replace("m=audio 53915 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=video 9 UDP/TLS/RTP/SAVPF 96");
        let err = validate(&video).unwrap_err();
        assert_eq!(err, OfferError::NoAudio);
        assert!(err.to_string().contains("no m=audio"), "{err}");
    }

    #[test]
    fn offer_without_supported_codec_is_rejected() {
        let g722 = CHROMIUM_OFFER.replace("111 63 9 0 8 13 110 126", "9 13 126");
        let err = validate(&g722).unwrap_err().to_string();
        assert!(err.contains("g722/8000 pt 9, cn/8000 pt 13, telephone-event/8000 pt 126"), "{err}");
        assert!(err.contains("expected Opus, PCMU or PCMA"), "{err}");

        let unmapped = CHROMIUM_OFFER.replace("111 63 9 0 8 13 110 126", "97");
        let err = validate(&unmapped).unwrap_err().to_string();
        assert!(err.contains("pt 97 without rtpmap"), "{err}");

        let not_a_pt = CHROMIUM_OFFER.replace("111 63 9 0 8 13 110 126", "opus");
        let err = validate(&not_a_pt).unwrap_err().to_string();
        assert!(err.contains("\"opus\" is not an RTP payload type"), "{err}");
    }

    #[test]
    fn offer_without_fingerprint_is_rejected() {
        let err = validate(&without_lines(CHROMIUM_OFFER, "a=fingerprint")).unwrap_err();
        assert_eq!(err, OfferError::NoFingerprint);
        assert!(err.to_string().contains("DTLS-SRTP"), "{err}");
    }
}
