//! IP and UDP framing: building our captures' IPv4/UDP headers, and finding the UDP datagram
//! inside a captured frame of the link types capture tools write.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use pcap_file::DataLink;

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
    let mut udp_sum = checksum(&p[20..], pseudo_v4(*src.ip(), *dst.ip(), udp_len));
    if udp_sum == 0 {
        udp_sum = 0xffff;
    }
    p[26..28].copy_from_slice(&udp_sum.to_be_bytes());
    p
}

/// Makes the UDP checksum of a packet from [`ipv4_udp`] fail (never 0, which means "none").
pub fn spoil_udp_checksum(p: &mut [u8]) {
    let good = u16::from_be_bytes([p[26], p[27]]);
    let bad = if good == 0xfffe { 0xfffd } else { good ^ 1 };
    p[26..28].copy_from_slice(&bad.to_be_bytes());
}

fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, udp_len: usize) -> u32 {
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 17, (udp_len >> 8) as u8, udp_len as u8]);
    sum16(&pseudo, 0)
}

fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, udp_len: usize) -> u32 {
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    sum16(&pseudo, 0)
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

/// Whether a UDP checksum verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Valid,
    Invalid,
    /// IPv4 allows leaving it out (0).
    Absent,
}

/// A UDP datagram found in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Udp<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    pub checksum: Checksum,
}

/// Why a frame holds no usable UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotUdp {
    /// Not IP, or IP carrying something else.
    Other,
    /// A fragment: replay does not reassemble (media datagrams are far below the MTU).
    Fragment,
    /// Cut short by the capture's snap length or a broken header.
    Truncated,
}

/// The link types a replay reads.
pub fn supported(link: DataLink) -> bool {
    matches!(
        link,
        DataLink::ETHERNET
            | DataLink::LINUX_SLL
            | DataLink::LINUX_SLL2
            | DataLink::NULL
            | DataLink::LOOP
            | DataLink::RAW
            | DataLink::IPV4
            | DataLink::IPV6
    )
}

/// The UDP datagram in `frame`, captured on a `link` that [`supported`] accepts.
pub fn udp_in(link: DataLink, frame: &[u8]) -> Result<Udp<'_>, NotUdp> {
    let ip = match link {
        DataLink::ETHERNET => {
            let mut at = 12;
            let mut ethertype = u16_at(frame, at)?;
            while matches!(ethertype, 0x8100 | 0x88a8) {
                at += 4;
                ethertype = u16_at(frame, at)?;
            }
            if !matches!(ethertype, 0x0800 | 0x86dd) {
                return Err(NotUdp::Other);
            }
            frame.get(at + 2..).ok_or(NotUdp::Truncated)?
        }
        DataLink::LINUX_SLL => frame.get(16..).ok_or(NotUdp::Truncated)?,
        DataLink::LINUX_SLL2 => frame.get(20..).ok_or(NotUdp::Truncated)?,
        DataLink::NULL | DataLink::LOOP => frame.get(4..).ok_or(NotUdp::Truncated)?,
        _ => frame,
    };
    match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4(ip),
        Some(6) => ipv6(ip),
        Some(_) => Err(NotUdp::Other),
        None => Err(NotUdp::Truncated),
    }
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, NotUdp> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]])).ok_or(NotUdp::Truncated)
}

fn ipv4(ip: &[u8]) -> Result<Udp<'_>, NotUdp> {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl {
        return Err(NotUdp::Truncated);
    }
    if ip[9] != 17 {
        return Err(NotUdp::Other);
    }
    let flags_offset = u16_at(ip, 6)?;
    if flags_offset & 0x3fff != 0 {
        return Err(NotUdp::Fragment);
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = &ip[ihl..];
    let (len, datagram) = udp_datagram(udp)?;
    let checksum = match u16_at(udp, 6)? {
        0 => Checksum::Absent,
        _ if checksum(datagram, pseudo_v4(src, dst, len)) == 0 => Checksum::Valid,
        _ => Checksum::Invalid,
    };
    Ok(udp_of(IpAddr::V4(src), IpAddr::V4(dst), datagram, checksum))
}

fn ipv6(ip: &[u8]) -> Result<Udp<'_>, NotUdp> {
    if ip.len() < 40 {
        return Err(NotUdp::Truncated);
    }
    let addr = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&ip[at..at + 16]).expect("16 bytes"));
    let (src, dst) = (addr(8), addr(24));
    let (mut next, mut at) = (ip[6], 40);
    // Hop-by-hop, routing and destination options precede UDP; a fragment header means a fragment.
    while matches!(next, 0 | 43 | 60) {
        let h = ip.get(at..at + 2).ok_or(NotUdp::Truncated)?;
        next = h[0];
        at += (usize::from(h[1]) + 1) * 8;
    }
    match next {
        17 => {}
        44 => return Err(NotUdp::Fragment),
        _ => return Err(NotUdp::Other),
    }
    let udp = ip.get(at..).ok_or(NotUdp::Truncated)?;
    let (len, datagram) = udp_datagram(udp)?;
    let checksum = if checksum(datagram, pseudo_v6(src, dst, len)) == 0 { Checksum::Valid } else { Checksum::Invalid };
    Ok(udp_of(IpAddr::V6(src), IpAddr::V6(dst), datagram, checksum))
}

/// The UDP header's length and the datagram (header and payload) it covers.
fn udp_datagram(udp: &[u8]) -> Result<(usize, &[u8]), NotUdp> {
    let len = usize::from(u16_at(udp, 4)?);
    if len < 8 {
        return Err(NotUdp::Truncated);
    }
    Ok((len, udp.get(..len).ok_or(NotUdp::Truncated)?))
}

fn udp_of(src: IpAddr, dst: IpAddr, datagram: &[u8], checksum: Checksum) -> Udp<'_> {
    let port = |at: usize| u16::from_be_bytes([datagram[at], datagram[at + 1]]);
    Udp { src: SocketAddr::new(src, port(0)), dst: SocketAddr::new(dst, port(2)), payload: &datagram[8..], checksum }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(100, 64, 0, 2), 50_000);
    const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40_000);

    #[test]
    fn our_packets_parse_back_and_a_spoiled_checksum_fails() {
        let mut p = ipv4_udp(A, B, b"hello rtp");
        let u = udp_in(DataLink::IPV4, &p).unwrap();
        assert_eq!((u.src, u.dst, u.payload, u.checksum), (A.into(), B.into(), &b"hello rtp"[..], Checksum::Valid));
        spoil_udp_checksum(&mut p);
        assert_eq!(udp_in(DataLink::IPV4, &p).unwrap().checksum, Checksum::Invalid);
    }

    #[test]
    fn ethernet_vlan_cooked_and_loopback_frames() {
        let ip = ipv4_udp(A, B, b"x");
        let mut eth = vec![0; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 7, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(udp_in(DataLink::ETHERNET, &eth).unwrap().payload, b"x");
        let mut sll = vec![0; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(udp_in(DataLink::LINUX_SLL, &sll).unwrap().payload, b"x");
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(udp_in(DataLink::NULL, &null).unwrap().payload, b"x");
        let mut arp = vec![0; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 0]);
        assert_eq!(udp_in(DataLink::ETHERNET, &arp), Err(NotUdp::Other));
    }

    #[test]
    fn ipv6_udp_with_its_checksum() {
        let (src, dst) = (Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST);
        let payload = b"rtp!";
        let mut udp = vec![0x9c, 0x40, 0xc3, 0x50, 0, 12, 0, 0];
        udp.extend_from_slice(payload);
        let sum = checksum(&udp, pseudo_v6(src, dst, udp.len()));
        udp[6..8].copy_from_slice(&sum.to_be_bytes());
        let mut ip = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&dst.octets());
        ip.extend_from_slice(&udp);
        let u = udp_in(DataLink::IPV6, &ip).unwrap();
        assert_eq!(
            (u.src.port(), u.dst.port(), u.payload, u.checksum),
            (40_000, 50_000, &payload[..], Checksum::Valid)
        );
        ip[47] ^= 0xff;
        assert_eq!(udp_in(DataLink::IPV6, &ip).unwrap().checksum, Checksum::Invalid);
    }

    #[test]
    fn fragments_and_short_frames_are_named() {
        let mut p = ipv4_udp(A, B, b"abc");
        p[6] = 0x20; // more fragments
        assert_eq!(udp_in(DataLink::IPV4, &p), Err(NotUdp::Fragment));
        let p = ipv4_udp(A, B, b"abcdef");
        assert_eq!(udp_in(DataLink::IPV4, &p[..p.len() - 2]), Err(NotUdp::Truncated));
    }
}
