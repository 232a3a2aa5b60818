//! Writing captures: LINKTYPE_IPV4, nanosecond timestamps (a replay must put every arrival on
//! the same 10 ms tick the receiver saw it on).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

use super::{Datagram, ip};

/// Writes `datagrams` (in time order; their times since `zero`, itself since the UNIX epoch)
/// as LINKTYPE_IPV4 packets (IPv6 loopback shown as its IPv4-mapped address, anything else as
/// 0.0.0.0).
pub fn write(path: &Path, datagrams: &[Datagram], zero: Duration) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let header = PcapHeader { datalink: DataLink::IPV4, ts_resolution: TsResolution::NanoSecond, ..Default::default() };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)
        .with_context(|| format!("writing {}", path.display()))?;
    for d in datagrams {
        let mut data = ip::ipv4_udp(v4(d.src), v4(d.dst), &d.bytes);
        if d.corrupted {
            ip::spoil_udp_checksum(&mut data);
        }
        let packet = PcapPacket::new(zero + d.at, data.len() as u32, &data);
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
