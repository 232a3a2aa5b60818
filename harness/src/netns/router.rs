//! The router namespace's impairment: an NFQUEUE verdict loop that runs the same sans-I/O
//! [`Impairment`] core as the simulator and the userspace relay. The kernel forwards and NATs;
//! every forwarded UDP packet waits here for its verdict — dropped, or accepted when its
//! delivery time comes — so the browser or client on the other side sees a real path through
//! real Linux NAT with the profile's loss and delay. Packets are told apart by the veth they
//! came in on (client side: uplink); RTP goes through the random impairment (so the same seed
//! gives the same decisions as in `sim` and `live`), everything else gets the base delay only.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jitterbug_core::due_queue::DueQueue;
use jitterbug_core::impairment::{Direction, Impairment, Outcome, PacketMeta};
use jitterbug_core::profile::Profile;
use jitterbug_core::time::Timestamp;

use crate::live::relay::{CapturedDatagram, Kind, RelayReport, TimerHealth, classify, loadavg};
use crate::sim::path::{IP_UDP_OVERHEAD, LossTally};

const UP: usize = 0;
const DOWN: usize = 1;
/// Longest the loop sleeps with nothing due: the nfq crate exposes no socket to wait on, so
/// the loop polls; this bounds what polling adds to a packet's transit (measured: +0.1–0.2 ms).
const IDLE_POLL: Duration = Duration::from_micros(100);

/// What the verdict loop needs: the profile, the seed, and which interface index is which side.
pub struct RouterConfig {
    pub profile: Profile,
    pub seed: u64,
    pub queue: u16,
    /// ifindex of the router's client-side veth: packets entering there are uplink.
    pub client_ifindex: u32,
}

/// A UDP datagram's addresses and payload inside an IPv4 packet.
struct Udp<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    /// Offset of the UDP header in the packet.
    header: usize,
    payload: &'a [u8],
}

fn parse_udp(packet: &[u8]) -> Option<Udp<'_>> {
    if packet.len() < 20 || packet[0] >> 4 != 4 || packet[9] != 17 {
        return None;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let udp = packet.get(ihl..ihl + 8)?;
    let ip = |o: usize| Ipv4Addr::new(packet[o], packet[o + 1], packet[o + 2], packet[o + 3]);
    Some(Udp {
        src: SocketAddr::from((ip(12), u16::from_be_bytes([udp[0], udp[1]]))),
        dst: SocketAddr::from((ip(16), u16::from_be_bytes([udp[2], udp[3]]))),
        header: ihl,
        payload: packet.get(ihl + 8..)?,
    })
}

/// Runs the verdict loop on the calling thread (which must be in the router namespace, with
/// an NFQUEUE rule pointing at `config.queue`) until `stop` is set; accepts whatever is still
/// held, then reports what it saw, in the relay's report shape.
pub fn run(config: RouterConfig, stop: Arc<AtomicBool>, ready: impl FnOnce()) -> std::io::Result<RelayReport> {
    let mut queue = nfq::Queue::open()?;
    queue.bind(config.queue)?;
    queue.set_nonblocking(true);
    ready();
    let mut imp = [
        Impairment::new(&config.profile.uplink, config.seed, Direction::Uplink),
        Impairment::new(&config.profile.downlink, config.seed, Direction::Downlink),
    ];
    let base = |d: &jitterbug_core::profile::DirectionSpec| d.base.delay.ms.duration();
    let control_delay = [base(&config.profile.uplink), base(&config.profile.downlink)];
    let start = Instant::now();
    let mut report = RelayReport::default();
    let mut tally: [LossTally; 2] = Default::default();
    let mut distinct: [HashSet<(u32, u16)>; 2] = Default::default();
    let mut held: DueQueue<Instant, nfq::Message> = DueQueue::default();
    let mut lateness = Vec::new();
    let mut not_applied = 0u64;
    let loadavg_start = loadavg();

    while !stop.load(Ordering::Relaxed) {
        let mut got = false;
        loop {
            let mut msg = match queue.recv() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            got = true;
            let t0 = Instant::now();
            let now = Timestamp::from_nanos(start.elapsed().as_nanos() as u64);
            let dir = if msg.get_indev() == config.client_ifindex { UP } else { DOWN };
            let (kind, size, rtp_id, header) = match parse_udp(msg.get_payload()) {
                Some(u) => {
                    let id = (u.payload.len() >= 12).then(|| {
                        let p = u.payload;
                        (u32::from_be_bytes([p[8], p[9], p[10], p[11]]), u16::from_be_bytes([p[2], p[3]]))
                    });
                    (classify(u.payload), u.payload.len(), id, u.header)
                }
                None => (Kind::Other, msg.get_payload().len(), None, 0),
            };
            let counts = if dir == UP { &mut report.received_uplink } else { &mut report.received_downlink };
            counts.add(kind);
            let mut deliver_at = t0 + control_delay[dir];
            if kind == Kind::Rtp {
                if let Some(id) = rtp_id {
                    distinct[dir].insert(id);
                }
                let outcome = imp[dir].on_packet(now, PacketMeta { size: size as u32 + IP_UDP_OVERHEAD });
                tally[dir].record(&outcome);
                match outcome {
                    Outcome::Dropped(_) => {
                        msg.set_verdict(nfq::Verdict::Drop);
                        queue.verdict(msg)?;
                        continue;
                    }
                    Outcome::Delivered { first, duplicate } => {
                        // NFQUEUE can only pass or drop a packet: a duplicate is counted, not sent.
                        not_applied += u64::from(duplicate.is_some());
                        if let Some(c) = first.corruption {
                            corrupt(&mut msg, header, c.bit as usize);
                        }
                        deliver_at = t0 + first.at.saturating_since(now);
                    }
                }
            }
            held.push(deliver_at, msg);
        }
        let now = Instant::now();
        while let Some((at, mut msg)) = held.pop_due(now) {
            lateness.push(now.saturating_duration_since(at).as_secs_f64() * 1e3);
            if let Some(u) = parse_udp(msg.get_payload()) {
                report.capture.push(CapturedDatagram {
                    at: now.duration_since(start),
                    src: u.src,
                    dst: u.dst,
                    bytes: u.payload.to_vec(),
                });
            }
            msg.set_verdict(nfq::Verdict::Accept);
            queue.verdict(msg)?;
        }
        if !got {
            let wait =
                held.next_at().map_or(IDLE_POLL, |at| at.saturating_duration_since(Instant::now()).min(IDLE_POLL));
            std::thread::sleep(wait);
        }
    }
    // Whatever is still held goes through (the call is over; nothing is lost at shutdown).
    while let Some((_, mut msg)) = held.pop() {
        msg.set_verdict(nfq::Verdict::Accept);
        queue.verdict(msg)?;
    }
    let _ = queue.unbind(config.queue);

    let [up, down] = tally;
    report.rtp_uplink = up.finish();
    report.rtp_downlink = down.finish();
    report.rtp_distinct_uplink = distinct[UP].len() as u64;
    report.rtp_distinct_downlink = distinct[DOWN].len() as u64;
    report.duplicates_not_applied = not_applied;
    report.timer = TimerHealth::from_lateness(lateness, loadavg_start, "router verdicts");
    Ok(report)
}

/// Flips one bit of the UDP payload and clears the UDP checksum (optional in IPv4), so the
/// receiver's stack delivers the damaged datagram as the relay would.
fn corrupt(msg: &mut nfq::Message, header: usize, bit: usize) {
    let mut packet = msg.get_payload().to_vec();
    let at = header + 8 + bit / 8;
    if header == 0 || at >= packet.len() {
        return;
    }
    packet[at] ^= 1 << (bit % 8);
    packet[header + 6] = 0;
    packet[header + 7] = 0;
    msg.set_payload(packet);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_in_ipv4_is_parsed() {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 100, 64, 1, 2, 198, 18, 1, 2];
        p.extend_from_slice(&[0x13, 0x88, 0x0d, 0x96, 0, 12, 0xab, 0xcd]);
        p.extend_from_slice(&[0x80, 111, 0, 7]);
        let u = parse_udp(&p).unwrap();
        assert_eq!(u.src, "100.64.1.2:5000".parse::<SocketAddr>().unwrap());
        assert_eq!(u.dst, "198.18.1.2:3478".parse::<SocketAddr>().unwrap());
        assert_eq!(u.header, 20);
        assert_eq!(classify(u.payload), Kind::Rtp);
        p[9] = 6;
        assert!(parse_udp(&p).is_none(), "TCP is not parsed as UDP");
    }
}
