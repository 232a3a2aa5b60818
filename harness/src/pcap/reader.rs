//! Reading captures back: pcap (micro- or nanosecond, either byte order) and pcapng, as
//! tcpdump and Wireshark write them, down to the UDP datagrams they hold.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, PcapError};

use super::ip::{self, Checksum, NotUdp};

/// One UDP datagram from a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// When it was captured, since the UNIX epoch.
    pub at: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
    pub checksum: Checksum,
}

/// A capture's UDP datagrams in file order, and what else it held.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capture {
    pub datagrams: Vec<Captured>,
    pub frames: usize,
    /// Frames that were not UDP (ARP, TCP, …), IP fragments, or cut short by the snap length.
    pub not_udp: usize,
    pub fragments: usize,
    pub truncated: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PcapReadError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: not a capture (expected a pcap file, magic a1b2c3d4 or a1b23c4d, or pcapng, magic 0a0d0d0a; found {found})"
    )]
    NotCapture { file: PathBuf, found: String },
    #[error("{file}: truncated after {packets} packets (expected a whole packet record; was the capture cut short?)")]
    Truncated { file: PathBuf, packets: usize },
    #[error("{file}: packet {packet}: {message}")]
    Malformed { file: PathBuf, packet: usize, message: String },
    #[error(
        "{file}: link type {link} is not supported (expected Ethernet, Linux cooked capture, raw IP or BSD loopback)"
    )]
    LinkType { file: PathBuf, link: String },
}

/// Reads every UDP datagram of the capture at `path`.
pub fn read(path: &Path) -> Result<Capture, PcapReadError> {
    let bytes = std::fs::read(path).map_err(|source| PcapReadError::Io { file: path.into(), source })?;
    match bytes.get(..4) {
        Some(
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] | [0x4d, 0x3c, 0xb2, 0xa1],
        ) => read_pcap(path, &bytes),
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(path, &bytes),
        other => Err(PcapReadError::NotCapture {
            file: path.into(),
            found: other.map_or_else(
                || format!("{} bytes", bytes.len()),
                |m| m.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            ),
        }),
    }
}

fn failure(path: &Path, packets: usize, e: PcapError) -> PcapReadError {
    match e {
        PcapError::IncompleteBuffer => PcapReadError::Truncated { file: path.into(), packets },
        PcapError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            PcapReadError::Truncated { file: path.into(), packets }
        }
        e => PcapReadError::Malformed { file: path.into(), packet: packets + 1, message: e.to_string() },
    }
}

fn link_check(path: &Path, link: DataLink) -> Result<(), PcapReadError> {
    if ip::supported(link) {
        Ok(())
    } else {
        Err(PcapReadError::LinkType { file: path.into(), link: format!("{link:?} ({})", u32::from(link)) })
    }
}

fn read_pcap(path: &Path, bytes: &[u8]) -> Result<Capture, PcapReadError> {
    let mut r = PcapReader::new(bytes).map_err(|e| failure(path, 0, e))?;
    let link = r.header().datalink;
    link_check(path, link)?;
    let mut capture = Capture::default();
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| failure(path, capture.frames, e))?;
        capture.add(link, p.timestamp, &p.data);
    }
    Ok(capture)
}

fn read_pcapng(path: &Path, bytes: &[u8]) -> Result<Capture, PcapReadError> {
    // The parser, unlike the reader, lends blocks from the input rather than from itself,
    // so the interface table can be consulted while a packet is in hand.
    let (mut rest, mut parser) = PcapNgParser::new(bytes).map_err(|e| failure(path, 0, e))?;
    let mut capture = Capture::default();
    while !rest.is_empty() {
        let (next, block) = parser.next_block(rest).map_err(|e| failure(path, capture.frames, e))?;
        rest = next;
        let Block::EnhancedPacket(p) = block else { continue };
        let Some(iface) = parser.packet_interface(&p) else {
            return Err(PcapReadError::Malformed {
                file: path.into(),
                packet: capture.frames + 1,
                message: format!("interface {} was never described", p.interface_id),
            });
        };
        link_check(path, iface.linktype)?;
        // pcap-file hands over the raw timestamp as nanoseconds; its unit is the interface's.
        let (mut resol, mut offset_s) = (6u8, 0u64);
        for o in &iface.options {
            match o {
                InterfaceDescriptionOption::IfTsResol(r) => resol = *r,
                InterfaceDescriptionOption::IfTsOffset(s) => offset_s = *s,
                _ => {}
            }
        }
        let at = Duration::from_secs(offset_s) + ticks(p.timestamp.as_nanos(), resol);
        let link = iface.linktype;
        capture.add(link, at, &p.data);
    }
    Ok(capture)
}

/// `raw` ticks of the pcapng unit `resol` (10^-n s, or 2^-n s with the high bit set).
fn ticks(raw: u128, resol: u8) -> Duration {
    let per_second: u128 =
        if resol & 0x80 == 0 { 10u128.pow(u32::from(resol.min(19))) } else { 1 << (resol & 0x7f).min(63) };
    let nanos = raw * 1_000_000_000 / per_second;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl Capture {
    fn add(&mut self, link: DataLink, at: Duration, frame: &[u8]) {
        self.frames += 1;
        match ip::udp_in(link, frame) {
            Ok(u) => self.datagrams.push(Captured {
                at,
                src: u.src,
                dst: u.dst,
                payload: u.payload.to_vec(),
                checksum: u.checksum,
            }),
            Err(NotUdp::Other) => self.not_udp += 1,
            Err(NotUdp::Fragment) => self.fragments += 1,
            Err(NotUdp::Truncated) => self.truncated += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_timestamp_units() {
        assert_eq!(ticks(1_500_000, 6), Duration::from_millis(1500), "microseconds by default");
        assert_eq!(ticks(1_500_000_000, 9), Duration::from_millis(1500));
        assert_eq!(ticks(3 << 20, 0x80 | 20), Duration::from_secs(3));
    }
}
