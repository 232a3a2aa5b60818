//! The packet path between a caller and an agent, sans-I/O, in str0m-netem's shape: datagrams
//! go in with the time ([`PacketPath::handle_input`]), due deliveries come out ([`PacketPath::poll_output`])
//! until it says when to come back. It owns what every driver would otherwise rebuild: both
//! directions' impairment cores, the in-flight queue, RFC 7983 classification, which datagrams
//! the random impairment sees ([`Policy`]), the one corruption rule ([`corrupt`]) and the
//! counters. Drivers — the two virtual-time simulators, the UDP relay, the NFQUEUE router —
//! only move bytes and keep time.

mod kind;
mod tally;

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use kind::{Kind, KindCounter, KindCounters, classify, rtp_id};
pub use tally::LossTally;

use crate::due_queue::DueQueue;
use crate::impairment::{Direction, Impairment, Outcome, PacketMeta};
use crate::profile::Profile;
use crate::results::NetworkCounters;
use crate::time::Timestamp;

/// IPv4 + UDP headers: what a datagram adds on the wire, which rate limits count and
/// corruption can hit.
pub const IP_UDP_OVERHEAD: u32 = 28;

/// Which datagrams meet the profile's random impairment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// RTP only, in send order, so the same seed drops the same RTP packets in the media-path
    /// simulator, the relay and the router; STUN, DTLS and RTCP take the direction's base
    /// delay and nothing random (a real-time call's handshake then does not depend on luck).
    RtpImpaired,
    /// Every datagram is a packet on the impaired wire (the full-stack simulator, where ICE
    /// and DTLS are meant to feel the loss).
    EveryDatagram,
}

/// A value per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerDirection<T> {
    /// Client → agent.
    pub uplink: T,
    /// Agent → client.
    pub downlink: T,
}

impl<T> PerDirection<T> {
    pub fn new(mut f: impl FnMut(Direction) -> T) -> Self {
        PerDirection { uplink: f(Direction::Uplink), downlink: f(Direction::Downlink) }
    }

    pub fn get(&self, d: Direction) -> &T {
        match d {
            Direction::Uplink => &self.uplink,
            Direction::Downlink => &self.downlink,
        }
    }

    pub fn get_mut(&mut self, d: Direction) -> &mut T {
        match d {
            Direction::Uplink => &mut self.uplink,
            Direction::Downlink => &mut self.downlink,
        }
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerDirection<U> {
        PerDirection { uplink: f(self.uplink), downlink: f(self.downlink) }
    }
}

/// The one corruption rule. The impairment picks a bit of the packet as it is on the wire
/// (`8 × (datagram + IP/UDP headers)` bits). A bit inside the datagram is flipped and the copy
/// travels on damaged — SRTP authentication, STUN's integrity check or the DTLS record MAC
/// rejects it at the receiver, so a corrupted WebRTC datagram is always a loss there. A bit
/// past the datagram's bytes falls in the IP/UDP headers, whose checksums fail, so the copy is
/// discarded on the way. Returns whether the copy is still delivered.
pub fn corrupt(bytes: &mut [u8], bit: u32) -> bool {
    let (byte, bit) = (bit as usize / 8, bit % 8);
    match bytes.get_mut(byte) {
        Some(b) => {
            *b ^= 1 << bit;
            true
        }
        None => false,
    }
}

/// What became of a datagram handed to the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    pub kind: Kind,
    /// Copies queued for delivery: 0 when it was dropped (or its only copy was corrupted in a
    /// header), 2 when duplicated.
    pub copies: u8,
}

/// One copy leaving the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<T> {
    pub direction: Direction,
    /// When it was due (the driver's clock may be later: that is its lateness).
    pub at: Timestamp,
    pub kind: Kind,
    pub bytes: Vec<u8>,
    /// What the driver handed in with the datagram (where it goes, which socket, which
    /// queued kernel packet).
    pub tag: T,
    /// A bit was flipped: the receiver's authentication will reject it.
    pub corrupted: bool,
    /// The second copy of a duplicated datagram.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<T> {
    Deliver(Delivery<T>),
    /// Nothing is due before this time.
    Timeout(Timestamp),
    /// Nothing is in flight.
    Idle,
}

/// What the path saw, per direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathReport {
    /// RTP through the impairment (the counters every score uses).
    pub rtp: PerDirection<NetworkCounters>,
    /// Distinct `(SSRC, sequence)` RTP packets handed in.
    pub rtp_distinct: PerDirection<u64>,
    /// Every datagram by kind.
    pub kinds: PerDirection<KindCounters>,
}

struct Side {
    imp: Impairment,
    base_delay: Duration,
    rtp: LossTally,
    distinct: HashSet<(u32, u16)>,
    kinds: KindCounters,
}

pub struct PacketPath<T> {
    policy: Policy,
    sides: PerDirection<Side>,
    queue: DueQueue<Timestamp, Delivery<T>>,
    in_flight: [usize; 5],
}

impl<T: Clone> PacketPath<T> {
    /// Both directions of `profile`, seeded from the scenario seed.
    pub fn new(profile: &Profile, seed: u64, policy: Policy) -> PacketPath<T> {
        let side = |d: Direction| {
            let spec = match d {
                Direction::Uplink => &profile.uplink,
                Direction::Downlink => &profile.downlink,
            };
            Side {
                imp: Impairment::new(spec, seed, d),
                base_delay: spec.base.delay.ms.duration(),
                rtp: LossTally::default(),
                distinct: HashSet::new(),
                kinds: KindCounters::default(),
            }
        };
        PacketPath { policy, sides: PerDirection::new(side), queue: DueQueue::default(), in_flight: [0; 5] }
    }

    /// A datagram sent at `now` (non-decreasing across calls) in `direction`.
    pub fn handle_input(&mut self, now: Timestamp, direction: Direction, bytes: Vec<u8>, tag: T) -> Fate {
        let kind = classify(&bytes);
        let side = self.sides.get_mut(direction);
        let random = kind == Kind::Rtp || self.policy == Policy::EveryDatagram;
        if !random {
            let c = side.kinds.of(kind);
            c.sent += 1;
            c.delivered += 1;
            let at = now + side.base_delay;
            self.push(Delivery { direction, at, kind, bytes, tag, corrupted: false, duplicate: false });
            return Fate { kind, copies: 1 };
        }
        let outcome = side.imp.on_packet(now, PacketMeta { size: bytes.len() as u32 + IP_UDP_OVERHEAD });
        let c = side.kinds.of(kind);
        c.sent += 1;
        match outcome {
            Outcome::Dropped(_) => c.lost += 1,
            Outcome::Delivered { duplicate, .. } => {
                c.delivered += 1;
                c.duplicates += u64::from(duplicate.is_some());
                c.corrupted += outcome.deliveries().filter(|d| d.corruption.is_some()).count() as u64;
            }
        }
        if kind == Kind::Rtp {
            side.rtp.record(&outcome);
            if let Some(id) = rtp_id(&bytes) {
                side.distinct.insert(id);
            }
        }
        let mut copies = 0;
        for (k, d) in outcome.deliveries().enumerate() {
            let mut copy = bytes.clone();
            if let Some(c) = d.corruption
                && !corrupt(&mut copy, c.bit)
            {
                continue;
            }
            copies += 1;
            let corrupted = d.corruption.is_some();
            self.push(Delivery {
                direction,
                at: d.at,
                kind,
                bytes: copy,
                tag: tag.clone(),
                corrupted,
                duplicate: k > 0,
            });
        }
        Fate { kind, copies }
    }

    fn push(&mut self, d: Delivery<T>) {
        self.in_flight[d.kind as usize] += 1;
        self.queue.push(d.at, d);
    }

    /// The next copy due at `now`, or when to ask again.
    pub fn poll_output(&mut self, now: Timestamp) -> Output<T> {
        match self.queue.pop_due(now) {
            Some((_, d)) => {
                self.in_flight[d.kind as usize] -= 1;
                Output::Deliver(d)
            }
            None => self.queue.next_at().map_or(Output::Idle, Output::Timeout),
        }
    }

    /// When the earliest copy in flight is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.queue.next_at()
    }

    /// Copies of `kind` still in flight.
    pub fn in_flight(&self, kind: Kind) -> usize {
        self.in_flight[kind as usize]
    }

    pub fn report(&self) -> PathReport {
        PathReport {
            rtp: PerDirection { uplink: self.sides.uplink.rtp.finish(), downlink: self.sides.downlink.rtp.finish() },
            rtp_distinct: PerDirection {
                uplink: self.sides.uplink.distinct.len() as u64,
                downlink: self.sides.downlink.distinct.len() as u64,
            },
            kinds: PerDirection { uplink: self.sides.uplink.kinds, downlink: self.sides.downlink.kinds },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn profile(text: &str) -> Profile {
        Profile::parse("t", text, std::path::Path::new("t.toml"), None).unwrap()
    }

    fn rtp(seq: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[0] = 0x80;
        b[1] = 111;
        b[2..4].copy_from_slice(&seq.to_be_bytes());
        b
    }

    #[test]
    fn header_bits_discard_the_copy_payload_bits_flip() {
        let mut b = vec![0u8; 4];
        assert!(corrupt(&mut b, 9));
        assert_eq!(b, [0, 2, 0, 0]);
        assert!(!corrupt(&mut b, 32), "bit 32 of a 4-byte datagram is in the IP/UDP headers");
    }

    #[test]
    fn control_traffic_takes_the_base_delay_and_rtp_the_random_impairment() {
        let p = profile(
            "description = \"d\"\nsource = \"s\"\n[both.delay]\nms = 20\njitter_ms = 10\ndistribution = \"normal\"\n",
        );
        let mut path: PacketPath<u32> = PacketPath::new(&p, 1, Policy::RtpImpaired);
        let f = path.handle_input(Timestamp::ZERO, Direction::Uplink, vec![0, 1, 0, 0], 7);
        assert_eq!(f, Fate { kind: Kind::Stun, copies: 1 });
        match path.poll_output(Timestamp::from_millis(100)) {
            Output::Deliver(d) => assert_eq!((d.at, d.tag, d.kind), (Timestamp::from_millis(20), 7, Kind::Stun)),
            other => panic!("{other:?}"),
        }
        assert_eq!(path.poll_output(Timestamp::from_millis(100)), Output::Idle);
        for seq in 0..200 {
            path.handle_input(Timestamp::from_millis(u64::from(seq) * 20), Direction::Uplink, rtp(seq, 60), 0);
        }
        let mut ats = Vec::new();
        while let Output::Deliver(d) = path.poll_output(Timestamp::from_millis(1_000_000)) {
            ats.push(d.at.saturating_since(Timestamp::from_millis(
                u64::from(u16::from_be_bytes([d.bytes[2], d.bytes[3]])) * 20,
            )));
        }
        assert_eq!(ats.len(), 200);
        assert!(ats.iter().any(|d| *d != Duration::from_millis(20)), "RTP is jittered");
        let r = path.report();
        assert_eq!(r.rtp.uplink.packets_sent, 200);
        assert_eq!(r.rtp_distinct.uplink, 200);
        assert_eq!(r.kinds.uplink.get(Kind::Stun).sent, 1);
        assert_eq!(r.rtp.downlink.packets_sent, 0);
    }

    #[test]
    fn every_datagram_policy_impairs_the_handshake_too() {
        let p = profile("description = \"d\"\nsource = \"s\"\n[both.loss]\nmodel = \"random\"\npercent = 100\n");
        let mut path: PacketPath<()> = PacketPath::new(&p, 1, Policy::EveryDatagram);
        assert_eq!(path.handle_input(Timestamp::ZERO, Direction::Downlink, vec![22, 0xfe], ()).copies, 0);
        let mut lenient: PacketPath<()> = PacketPath::new(&p, 1, Policy::RtpImpaired);
        assert_eq!(lenient.handle_input(Timestamp::ZERO, Direction::Downlink, vec![22, 0xfe], ()).copies, 1);
        assert_eq!(path.report().kinds.downlink.get(Kind::Dtls).lost, 1);
    }

    #[test]
    fn in_flight_counts_per_kind() {
        let p = profile("description = \"d\"\nsource = \"s\"\n[both.delay]\nms = 5\n");
        let mut path: PacketPath<()> = PacketPath::new(&p, 1, Policy::RtpImpaired);
        path.handle_input(Timestamp::ZERO, Direction::Uplink, rtp(1, 40), ());
        path.handle_input(Timestamp::ZERO, Direction::Uplink, vec![0, 1], ());
        assert_eq!((path.in_flight(Kind::Rtp), path.in_flight(Kind::Stun)), (1, 1));
        assert_eq!(path.poll_output(Timestamp::ZERO), Output::Timeout(Timestamp::from_millis(5)));
        while let Output::Deliver(_) = path.poll_output(Timestamp::from_millis(5)) {}
        assert_eq!(path.in_flight(Kind::Rtp), 0);
    }
}
