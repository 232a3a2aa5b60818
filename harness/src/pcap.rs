//! Captures as pcap files Wireshark opens: raw IPv4/UDP around each datagram, timestamped
//! with when it left the path (virtual time in the simulator, since the call started live).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

/// Virtual time zero is placed at 2026-01-01T00:00:00Z so captures show plausible dates.
const EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// Addresses used in simulated captures (documentation/test ranges the project may use).
pub const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(100, 64, 0, 2), 50_000);
pub const AGENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40_000);

/// One datagram as it left the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub at: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Writes `datagrams` (in time order) as LINKTYPE_IPV4 packets (IPv6 loopback shown as its
/// IPv4-mapped address, anything else as 0.0.0.0).
pub fn write(path: &Path, datagrams: &[Datagram]) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let header = PcapHeader { datalink: DataLink::IPV4, ..Default::default() };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)
        .with_context(|| format!("writing {}", path.display()))?;
    for d in datagrams {
        let data = ipv4_udp(v4(d.src), v4(d.dst), &d.bytes);
        let packet = PcapPacket::new(EPOCH + d.at, data.len() as u32, &data);
        w.write_packet(&packet).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn v4(a: SocketAddr) -> SocketAddrV4 {
    match a {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => SocketAddrV4::new(a.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED), a.port()),
    }
}

/// An IPv4 header (with checksum) and a UDP header (with checksum) around `payload`.
pub fn ipv4_udp(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    let ip_sum = checksum(&p[..20], 0);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    // UDP checksum over the pseudo-header, header and payload.
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.ip().octets());
    pseudo.extend_from_slice(&dst.ip().octets());
    pseudo.extend_from_slice(&[0, 17, (udp_len >> 8) as u8, udp_len as u8]);
    let partial = sum16(&pseudo, 0);
    let mut udp_sum = checksum(&p[20..], partial);
    if udp_sum == 0 {
        udp_sum = 0xffff;
    }
    p[26..28].copy_from_slice(&udp_sum.to_be_bytes());
    p
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        acc += u32::from(word);
    }
    acc
}

fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut acc = sum16(data, initial);
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}
