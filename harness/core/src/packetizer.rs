//! Encoded frames to RTP packets, one at a time, as a WebRTC sender emits them: of a run of
//! DTX frames (1–2 bytes) only the first is sent (it tells the receiver DTX started), while
//! libopus's comfort-noise updates are; the marker flags the first packet of a talkspurt.
//! The simulator, the agent and the native client all packetise with this.

use crate::codec::{CodecSettings, Encoded};
use crate::rtp::RtpHeader;

#[derive(Debug, Clone)]
pub struct Packetizer {
    payload_type: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    step: u32,
    after_gap: bool,
}

impl Packetizer {
    /// A stream whose SSRC, first sequence number and first timestamp are given (seeded by
    /// the caller) and whose payload type is `payload_type` (the negotiated one).
    pub fn new(settings: &CodecSettings, payload_type: u8, ssrc: u32, seq0: u16, ts0: u32) -> Packetizer {
        Packetizer { payload_type, ssrc, seq: seq0, ts: ts0, step: settings.rtp_timestamp_step(), after_gap: true }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The next frame's packet, or `None` when the frame is not sent (DTX). The RTP timestamp
    /// advances either way.
    pub fn push<'f>(&mut self, frame: &'f Encoded) -> Option<(RtpHeader, &'f [u8])> {
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(self.step);
        if frame.dtx {
            let first = !self.after_gap;
            self.after_gap = true;
            if !first {
                return None;
            }
        }
        let header = RtpHeader {
            marker: self.after_gap && !frame.dtx,
            payload_type: self.payload_type,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
        };
        self.after_gap = frame.dtx;
        self.seq = self.seq.wrapping_add(1);
        Some((header, &frame.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, FrameMs};

    fn frame(dtx: bool) -> Encoded {
        Encoded { payload: if dtx { vec![0] } else { vec![1; 40] }, dtx }
    }

    #[test]
    fn dtx_runs_send_one_packet_and_keep_the_clock() {
        let s = CodecSettings::new(Codec::Opus, FrameMs::Ms20);
        let mut p = Packetizer::new(&s, 111, 7, 65535, 0);
        let sent: Vec<_> = [false, false, true, true, true, false]
            .iter()
            .filter_map(|&d| p.push(&frame(d)).map(|(h, _)| (h.marker, h.sequence, h.timestamp)))
            .collect();
        // Talkspurt start marked, first DTX frame sent, the rest skipped, new talkspurt marked;
        // sequence numbers wrap and stay contiguous, timestamps count skipped frames.
        assert_eq!(sent, vec![(true, 65535, 0), (false, 0, 960), (false, 1, 1920), (true, 2, 4800)]);
    }
}
