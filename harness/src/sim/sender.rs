//! The sending side: encoded frames become RTP packets with send times, as a WebRTC sender
//! would emit them (the shared [`Packetizer`]): a packet leaves when its frame is complete.

use std::time::Duration;

use jitterbug_core::codec::{CodecSettings, Encoded};
use jitterbug_core::packetizer::Packetizer;
use jitterbug_core::rng::{Stream, StreamId};
use jitterbug_core::time::Timestamp;

/// An RTP packet on its way out.
#[derive(Debug, Clone)]
pub struct SentPacket {
    pub at: Timestamp,
    pub bytes: Vec<u8>,
}

/// Packetises `frames`; sequence number, timestamp and SSRC start from seeded random values.
pub fn packetize(frames: &[Encoded], settings: &CodecSettings, seed: u64, label: u64) -> Vec<SentPacket> {
    let mut packetizer = seeded_packetizer(settings, seed, label);
    let frame = Duration::from_millis(u64::from(settings.frame_ms.millis()));
    frames
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let (header, payload) = packetizer.push(f)?;
            Some(SentPacket { at: Timestamp::ZERO + frame * (i as u32 + 1), bytes: header.write(payload) })
        })
        .collect()
}

/// The packetiser of stream `label` for `seed`: SSRC, first sequence number and first
/// timestamp drawn from the media stream.
pub fn seeded_packetizer(settings: &CodecSettings, seed: u64, label: u64) -> Packetizer {
    let mut rng = Stream::new(seed, label, StreamId::Media);
    let ssrc = rng.next_u64() as u32;
    let seq = rng.next_u64() as u16;
    let ts0 = rng.next_u64() as u32;
    Packetizer::new(settings, settings.payload_type(), ssrc, seq, ts0)
}
