//! The RTP streams of a capture, and one stream's copies in arrival order.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use jitterbug_core::path::{Kind, classify};
use jitterbug_core::rtp::RtpHeader;

use crate::pcap::{Capture, Checksum};

/// An RTP stream seen in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub ssrc: u32,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload_type: u8,
    pub packets: usize,
}

impl fmt::Display for StreamInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SSRC {:#010x} ({} → {}, payload type {}, {} packets)",
            self.ssrc, self.src, self.dst, self.payload_type, self.packets
        )
    }
}

/// Every RTP stream of the capture (RFC 7983 demultiplexing, as a WebRTC endpoint does; STUN,
/// DTLS and RTCP are not media), in order of first appearance. A copy whose checksum fails
/// does not make a stream of its own (a flipped bit in its SSRC would), unless no checksum in
/// the capture holds (checksum offload).
pub fn streams(capture: &Capture) -> Vec<StreamInfo> {
    let mut order = Vec::new();
    let mut by_ssrc: BTreeMap<u32, (StreamInfo, usize)> = BTreeMap::new();
    for d in &capture.datagrams {
        if classify(&d.payload) != Kind::Rtp {
            continue;
        }
        let Ok((h, _)) = RtpHeader::parse(&d.payload) else { continue };
        let (info, valid) = by_ssrc.entry(h.ssrc).or_insert_with(|| {
            order.push(h.ssrc);
            (StreamInfo { ssrc: h.ssrc, src: d.src, dst: d.dst, payload_type: h.payload_type, packets: 0 }, 0)
        });
        info.packets += 1;
        *valid += usize::from(d.checksum != Checksum::Invalid);
    }
    let any_valid = by_ssrc.values().any(|(_, v)| *v > 0);
    order
        .into_iter()
        .filter_map(|s| by_ssrc.remove(&s))
        .filter(|(_, valid)| *valid > 0 || !any_valid)
        .map(|(info, _)| info)
        .collect()
}

/// One captured copy of a packet of the stream.
#[derive(Debug, Clone)]
pub struct Copy {
    /// When it was captured, since the UNIX epoch.
    pub at: Duration,
    pub header: RtpHeader,
    pub bytes: Vec<u8>,
    /// Its UDP checksum failed: a receiver's stack (or SRTP) would drop it.
    pub corrupted: bool,
}

/// The stream's copies in capture order, and whether checksums were believed: when most of a
/// stream fails them the capture was taken before checksum offload filled them in, and
/// they say nothing.
pub fn copies(capture: &Capture, ssrc: u32) -> (Vec<Copy>, ChecksumPolicy) {
    let mut out: Vec<Copy> = Vec::new();
    for d in &capture.datagrams {
        if classify(&d.payload) != Kind::Rtp {
            continue;
        }
        let Ok((header, _)) = RtpHeader::parse(&d.payload) else { continue };
        if header.ssrc != ssrc {
            continue;
        }
        out.push(Copy { at: d.at, header, bytes: d.payload.clone(), corrupted: d.checksum == Checksum::Invalid });
    }
    let bad = out.iter().filter(|c| c.corrupted).count();
    let policy = if bad * 2 > out.len() {
        out.iter_mut().for_each(|c| c.corrupted = false);
        ChecksumPolicy::Ignored { bad }
    } else {
        ChecksumPolicy::Believed
    };
    out.sort_by_key(|c| c.at);
    (out, policy)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumPolicy {
    Believed,
    /// Most copies failed: kept all of them (`bad` failed).
    Ignored {
        bad: usize,
    },
}
