//! The rtpdump format (RTPtools' `rtpdump -F dump`, which libwebrtc's `neteq_rtpplay` reads): a
//! sender's record of the RTP packets it sent, in plaintext, each with its send time. Jitterbug
//! writes one beside every capture of encrypted media, so a replay has the payloads SRTP hides.
//!
//! Layout (network byte order): the text line `#!rtpplay1.0 ADDRESS/PORT\n`; a 16-byte header
//! (start time as seconds and microseconds, source IPv4 address, port, padding); then per
//! packet an 8-byte header (record length including these 8 bytes, packet length, send time in
//! ms since the start) and the packet. Sans-I/O: bytes in, bytes out.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const MAGIC: &str = "#!rtpplay1.0 ";
const FILE_HEADER: usize = 16;
const RECORD_HEADER: usize = 8;

/// One sent packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When it was sent, since the dump's start (rtpdump keeps milliseconds).
    pub offset_ms: u32,
    /// The whole RTP packet (header and plaintext payload).
    pub packet: Vec<u8>,
}

/// A parsed dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpdump {
    /// The start, as time since the UNIX epoch (on the sender's clock).
    pub start: Duration,
    pub source: SocketAddrV4,
    pub records: Vec<Record>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RtpdumpError {
    #[error("not an rtpdump file: expected it to begin with \"#!rtpplay1.0 ADDRESS/PORT\"")]
    Magic,
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: usize, what: &'static str },
    #[error("record at byte {at}: length {length} is shorter than its 8-byte header")]
    BadLength { at: usize, length: u16 },
}

impl Rtpdump {
    /// An empty dump starting at `start` (since the UNIX epoch) from `source`.
    pub fn new(start: Duration, source: SocketAddrV4) -> Rtpdump {
        Rtpdump { start, source, records: Vec::new() }
    }

    /// Records `packet`, sent `since_start` after the start.
    pub fn push(&mut self, since_start: Duration, packet: Vec<u8>) {
        let offset_ms = u32::try_from(since_start.as_millis()).unwrap_or(u32::MAX);
        self.records.push(Record { offset_ms, packet });
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC}{}/{}\n", self.source.ip(), self.source.port()).into_bytes();
        out.extend_from_slice(&(self.start.as_secs() as u32).to_be_bytes());
        out.extend_from_slice(&self.start.subsec_micros().to_be_bytes());
        out.extend_from_slice(&self.source.ip().octets());
        out.extend_from_slice(&self.source.port().to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for r in &self.records {
            let len = (RECORD_HEADER + r.packet.len()).min(usize::from(u16::MAX)) as u16;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&(r.packet.len() as u16).to_be_bytes());
            out.extend_from_slice(&r.offset_ms.to_be_bytes());
            out.extend_from_slice(&r.packet[..usize::from(len) - RECORD_HEADER]);
        }
        out
    }

    /// Parses a whole file.
    pub fn parse(bytes: &[u8]) -> Result<Rtpdump, RtpdumpError> {
        let line_end = bytes.iter().position(|&b| b == b'\n').ok_or(RtpdumpError::Magic)?;
        if !bytes[..line_end].starts_with(MAGIC.as_bytes()) {
            return Err(RtpdumpError::Magic);
        }
        let mut at = line_end + 1;
        let header =
            bytes.get(at..at + FILE_HEADER).ok_or(RtpdumpError::Truncated { at, what: "the 16-byte file header" })?;
        let word = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let start = Duration::from_secs(u64::from(word(0))) + Duration::from_micros(u64::from(word(4).min(999_999)));
        let ip = Ipv4Addr::from(word(8));
        let port = u16::from_be_bytes([header[12], header[13]]);
        at += FILE_HEADER;
        let mut records = Vec::new();
        while at < bytes.len() {
            let h = bytes
                .get(at..at + RECORD_HEADER)
                .ok_or(RtpdumpError::Truncated { at, what: "a record's 8-byte header" })?;
            let length = u16::from_be_bytes([h[0], h[1]]);
            let offset_ms = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            if usize::from(length) < RECORD_HEADER {
                return Err(RtpdumpError::BadLength { at, length });
            }
            let packet = bytes
                .get(at + RECORD_HEADER..at + usize::from(length))
                .ok_or(RtpdumpError::Truncated { at, what: "a record's packet" })?;
            records.push(Record { offset_ms, packet: packet.to_vec() });
            at += usize::from(length);
        }
        Ok(Rtpdump { start, source: SocketAddrV4::new(ip, port), records })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump() -> Rtpdump {
        let mut d =
            Rtpdump::new(Duration::new(1_767_225_600, 250_000_000), SocketAddrV4::new([198, 18, 0, 2].into(), 40_000));
        d.push(Duration::from_micros(20_400), vec![0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0xaa]);
        d.push(Duration::from_millis(40), vec![0x80, 111, 0, 2, 0, 0, 3, 0xc0, 0, 0, 0, 7, 0xbb, 0xcc]);
        d
    }

    #[test]
    fn round_trips_with_millisecond_send_times() {
        let d = dump();
        let bytes = d.to_bytes();
        assert!(bytes.starts_with(b"#!rtpplay1.0 198.18.0.2/40000\n"));
        let back = Rtpdump::parse(&bytes).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.records[0].offset_ms, 20, "rtpdump keeps whole milliseconds");
    }

    #[test]
    fn bad_input_says_where_and_what() {
        assert_eq!(Rtpdump::parse(b"RIFF....WAVE"), Err(RtpdumpError::Magic));
        let bytes = dump().to_bytes();
        let cut = &bytes[..bytes.len() - 3];
        assert_eq!(
            Rtpdump::parse(cut),
            Err(RtpdumpError::Truncated { at: bytes.len() - 22, what: "a record's packet" })
        );
        let mut zero = bytes.clone();
        let first = bytes.iter().position(|&b| b == b'\n').unwrap() + 1 + FILE_HEADER;
        zero[first..first + 2].copy_from_slice(&[0, 4]);
        assert_eq!(Rtpdump::parse(&zero), Err(RtpdumpError::BadLength { at: first, length: 4 }));
    }
}
