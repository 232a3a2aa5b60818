//! RTP fixed header (RFC 3550 section 5.1): just enough to packetise, parse and demultiplex.

/// The RTP header fields Jitterbug reads and writes (no CSRCs or extensions on write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// Why bytes are not an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("RTP packet too short: {len} bytes, expected at least {need}")]
    TooShort { len: usize, need: usize },
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    #[error("RTP padding length {padding} exceeds the {available} payload bytes")]
    Padding { padding: usize, available: usize },
}

pub const HEADER_LEN: usize = 12;

impl RtpHeader {
    /// Serialises header and payload into one packet.
    pub fn write(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.push(0x80);
        out.push((u8::from(self.marker) << 7) | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Parses a packet, skipping CSRCs, a header extension and padding; returns the payload.
    pub fn parse(bytes: &[u8]) -> Result<(RtpHeader, &[u8]), RtpError> {
        let short = |need| RtpError::TooShort { len: bytes.len(), need };
        if bytes.len() < HEADER_LEN {
            return Err(short(HEADER_LEN));
        }
        let version = bytes[0] >> 6;
        if version != 2 {
            return Err(RtpError::Version(version));
        }
        let mut start = HEADER_LEN + 4 * usize::from(bytes[0] & 0x0f);
        if bytes[0] & 0x10 != 0 {
            if bytes.len() < start + 4 {
                return Err(short(start + 4));
            }
            let words = u16::from_be_bytes([bytes[start + 2], bytes[start + 3]]);
            start += 4 + 4 * usize::from(words);
        }
        if bytes.len() < start {
            return Err(short(start));
        }
        let mut end = bytes.len();
        if bytes[0] & 0x20 != 0 {
            let padding = usize::from(bytes[end - 1]);
            if padding == 0 || padding > end - start {
                return Err(RtpError::Padding { padding, available: end - start });
            }
            end -= padding;
        }
        let header = RtpHeader {
            marker: bytes[1] & 0x80 != 0,
            payload_type: bytes[1] & 0x7f,
            sequence: u16::from_be_bytes([bytes[2], bytes[3]]),
            timestamp: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            ssrc: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        };
        Ok((header, &bytes[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = RtpHeader { marker: true, payload_type: 111, sequence: 65_535, timestamp: 0xdead_beef, ssrc: 42 };
        let bytes = h.write(&[1, 2, 3]);
        assert_eq!(RtpHeader::parse(&bytes).unwrap(), (h, &[1u8, 2, 3][..]));
    }

    #[test]
    fn malformed_packets_are_named() {
        assert_eq!(RtpHeader::parse(&[0x80; 5]), Err(RtpError::TooShort { len: 5, need: 12 }));
        assert_eq!(RtpHeader::parse(&[0x40; 12]), Err(RtpError::Version(1)));
        let mut p = RtpHeader { marker: false, payload_type: 0, sequence: 1, timestamp: 2, ssrc: 3 }.write(&[9]);
        p[0] |= 0x20;
        assert!(matches!(RtpHeader::parse(&p), Err(RtpError::Padding { .. })));
    }
}
