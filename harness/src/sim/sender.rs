//! The sending side: encoded frames become RTP packets with send times, as a WebRTC sender
//! would emit them: a packet leaves when its frame is complete; of a run of DTX frames (1–2
//! bytes) only the first is sent, while libopus's comfort-noise updates (every 400 ms in DTX)
//! are.

use std::time::Duration;

use jitterbug_core::codec::{CodecSettings, Encoded};
use jitterbug_core::rng::{Stream, StreamId};
use jitterbug_core::rtp::RtpHeader;
use jitterbug_core::time::Timestamp;

/// An RTP packet on its way out.
#[derive(Debug, Clone)]
pub struct SentPacket {
    pub at: Timestamp,
    pub bytes: Vec<u8>,
}

/// Packetises `frames`; sequence number, timestamp and SSRC start from seeded random values.
pub fn packetize(frames: &[Encoded], settings: &CodecSettings, seed: u64, label: u64) -> Vec<SentPacket> {
    let mut rng = Stream::new(seed, label, StreamId::Media);
    let ssrc = rng.next_u64() as u32;
    let mut seq = rng.next_u64() as u16;
    let ts0 = rng.next_u64() as u32;
    let frame = Duration::from_millis(u64::from(settings.frame_ms.millis()));
    let mut out = Vec::with_capacity(frames.len());
    let mut after_gap = true;
    for (i, f) in frames.iter().enumerate() {
        if f.dtx {
            // As libwebrtc's Opus wrapper: the first DTX frame after a sent packet goes out to
            // tell the receiver DTX started; the following ones are not sent.
            let first = !after_gap;
            after_gap = true;
            if !first {
                continue;
            }
        }
        let header = RtpHeader {
            // RFC 3551: the marker flags the first packet of a talkspurt.
            marker: after_gap && !f.dtx,
            payload_type: settings.payload_type(),
            sequence: seq,
            timestamp: ts0.wrapping_add(settings.rtp_timestamp_step().wrapping_mul(i as u32)),
            ssrc,
        };
        after_gap = f.dtx;
        seq = seq.wrapping_add(1);
        out.push(SentPacket { at: Timestamp::ZERO + frame * (i as u32 + 1), bytes: header.write(&f.payload) });
    }
    out
}
