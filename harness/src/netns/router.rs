//! The router namespace's impairment: an NFQUEUE verdict loop that runs the same sans-I/O
//! [`Impairment`] core as the simulator and the userspace relay. The kernel forwards and NATs;
//! every forwarded UDP packet waits here for its verdict — dropped, or accepted when its
//! delivery time comes — so the browser or client on the other side sees a real path through
//! real Linux NAT with the profile's loss and delay. Packets are told apart by the veth they
//! came in on (client side: uplink); RTP goes through the random impairment (so the same seed
//! gives the same decisions as in `sim` and `live`), everything else gets the base delay only.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jitterbug_core::impairment::Direction;
use jitterbug_core::path::{Kind, Output, PacketPath, Policy, classify};
use jitterbug_core::profile::Profile;
use jitterbug_core::time::Timestamp;

use crate::live::relay::{RelayReport, TimerHealth, loadavg, unix_now_ns};
use crate::pcap::Datagram;
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
///
/// Each queued kernel packet's UDP payload goes into the shared packet path tagged with a
/// number; when a copy comes out, the held packet gets its verdict (accept, with the payload
/// rewritten if it was corrupted), or a drop verdict at once when no copy will come.
pub fn run(config: RouterConfig, stop: Arc<AtomicBool>, ready: impl FnOnce()) -> std::io::Result<RelayReport> {
    let mut queue = nfq::Queue::open()?;
    queue.bind(config.queue)?;
    queue.set_nonblocking(true);
    ready();
    let mut path: PacketPath<u64> = PacketPath::new(&config.profile, config.seed, Policy::RtpImpaired);
    let start = Instant::now();
    let at = |i: Instant| Timestamp::from_nanos(i.saturating_duration_since(start).as_nanos() as u64);
    let mut report = RelayReport { started_unix_ns: unix_now_ns(), ..RelayReport::default() };
    let mut held: HashMap<u64, Held> = HashMap::new();
    let mut next_id = 0u64;
    let mut lateness = Vec::new();
    let mut not_applied = 0u64;
    let loadavg_start = loadavg();

    while !stop.load(Ordering::Relaxed) {
        let mut got = false;
        loop {
            let msg = match queue.recv() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            got = true;
            let direction =
                if msg.get_indev() == config.client_ifindex { Direction::Uplink } else { Direction::Downlink };
            let Some(u) = parse_udp(msg.get_payload()) else {
                // Not UDP in IPv4 (the rule queues UDP only): let it through untouched.
                let counts = if direction == Direction::Uplink {
                    &mut report.received_uplink
                } else {
                    &mut report.received_downlink
                };
                counts.add(Kind::Other);
                accept(&mut queue, msg)?;
                continue;
            };
            let counts = if direction == Direction::Uplink {
                &mut report.received_uplink
            } else {
                &mut report.received_downlink
            };
            counts.add(classify(u.payload));
            let (payload, header, src, dst) = (u.payload.to_vec(), u.header, u.src, u.dst);
            next_id += 1;
            let fate = path.handle_input(at(Instant::now()), direction, payload, next_id);
            if fate.copies == 0 {
                let mut msg = msg;
                msg.set_verdict(nfq::Verdict::Drop);
                queue.verdict(msg)?;
                continue;
            }
            held.insert(next_id, Held { msg, header, src, dst });
        }
        let now = Instant::now();
        let wait = loop {
            match path.poll_output(at(now)) {
                Output::Deliver(d) => {
                    lateness.push(at(now).saturating_since(d.at).as_secs_f64() * 1e3);
                    // NFQUEUE can only pass or drop a packet once: a duplicate is counted, not sent.
                    let Some(h) = held.remove(&d.tag) else {
                        not_applied += 1;
                        continue;
                    };
                    report.capture.push(Datagram {
                        at: now.duration_since(start),
                        src: h.src,
                        dst: h.dst,
                        bytes: d.bytes.clone(),
                        corrupted: d.corrupted,
                    });
                    let mut msg = h.msg;
                    if d.corrupted {
                        set_udp_payload(&mut msg, h.header, &d.bytes);
                    }
                    accept(&mut queue, msg)?;
                }
                Output::Timeout(due) => break (due - at(now)).min(IDLE_POLL),
                Output::Idle => break IDLE_POLL,
            }
        };
        if !got {
            std::thread::sleep(wait);
        }
    }
    // Whatever is still held goes through (the call is over; nothing is lost at shutdown).
    for (_, h) in held.drain() {
        accept(&mut queue, h.msg)?;
    }
    let _ = queue.unbind(config.queue);

    report.set_path(&path.report());
    report.duplicates_not_applied = not_applied;
    report.timer = TimerHealth::from_lateness(lateness, loadavg_start, "router verdicts");
    Ok(report)
}

/// A kernel packet waiting for its verdict.
struct Held {
    msg: nfq::Message,
    /// Offset of the UDP header in the packet.
    header: usize,
    src: SocketAddr,
    dst: SocketAddr,
}

fn accept(queue: &mut nfq::Queue, mut msg: nfq::Message) -> std::io::Result<()> {
    msg.set_verdict(nfq::Verdict::Accept);
    queue.verdict(msg)
}

/// Replaces the UDP payload (same length: a corrupted copy) and clears the UDP checksum
/// (optional in IPv4), so the receiver's stack delivers the damaged datagram to the
/// application, whose authentication then rejects it.
fn set_udp_payload(msg: &mut nfq::Message, header: usize, payload: &[u8]) {
    let mut packet = msg.get_payload().to_vec();
    let start = header + 8;
    if packet.len() != start + payload.len() {
        return;
    }
    packet[start..].copy_from_slice(payload);
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
