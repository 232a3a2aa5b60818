//! What a datagram on a WebRTC 5-tuple is, from its first bytes (RFC 7983 demultiplexing;
//! RTCP told from RTP by its packet type, RFC 5761).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Stun,
    Dtls,
    /// RTP or SRTP: the fixed header is in the clear either way.
    Rtp,
    /// RTCP or SRTCP (packet types 192–223 in the second byte).
    Rtcp,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Stun, Kind::Dtls, Kind::Rtp, Kind::Rtcp, Kind::Other];

    fn index(self) -> usize {
        self as usize
    }
}

pub fn classify(b: &[u8]) -> Kind {
    match b.first() {
        Some(0..=3) => Kind::Stun,
        Some(20..=63) => Kind::Dtls,
        Some(128..=191) if b.len() >= 2 && (192..=223).contains(&b[1]) => Kind::Rtcp,
        Some(128..=191) => Kind::Rtp,
        _ => Kind::Other,
    }
}

/// `(SSRC, sequence number)` of an RTP packet, read from its clear-text header.
pub fn rtp_id(b: &[u8]) -> Option<(u32, u16)> {
    (b.len() >= 12).then(|| (u32::from_be_bytes([b[8], b[9], b[10], b[11]]), u16::from_be_bytes([b[2], b[3]])))
}

/// What happened to the datagrams of one kind in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounter {
    pub sent: u64,
    /// Datagrams with at least one copy delivered (a corrupted copy counts: it was delivered).
    pub delivered: u64,
    /// Dropped by the loss model, a blackout or a full rate-limit queue.
    pub lost: u64,
    pub duplicates: u64,
    /// Copies with a flipped bit (delivered damaged, or discarded when the bit hit a header).
    pub corrupted: u64,
}

/// One [`KindCounter`] per [`Kind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounters([KindCounter; 5]);

impl KindCounters {
    pub fn get(&self, k: Kind) -> KindCounter {
        self.0[k.index()]
    }

    pub(crate) fn of(&mut self, k: Kind) -> &mut KindCounter {
        &mut self.0[k.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7983_demultiplexing() {
        assert_eq!(classify(&[0x00, 0x01]), Kind::Stun);
        assert_eq!(classify(&[22, 0xfe, 0xfd]), Kind::Dtls);
        assert_eq!(classify(&[0x80, 111]), Kind::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 111]), Kind::Rtp, "marker bit set");
        assert_eq!(classify(&[0x81, 200]), Kind::Rtcp, "sender report");
        assert_eq!(classify(&[0x81, 205]), Kind::Rtcp, "transport feedback");
        assert_eq!(classify(&[255]), Kind::Other);
        assert_eq!(classify(&[]), Kind::Other);
    }
}
