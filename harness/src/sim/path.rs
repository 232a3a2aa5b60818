//! Packets through one direction's impairment core.

use jitterbug_core::impairment::{DropCause, Impairment, Outcome, PacketMeta};
use jitterbug_core::results::NetworkCounters;
use jitterbug_core::time::Timestamp;

use super::sender::SentPacket;

/// IPv4 + UDP headers: the impairment's rate limiter counts bytes on the wire.
pub const IP_UDP_OVERHEAD: u32 = 28;

/// A copy that reached the receiver.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Timestamp,
    pub bytes: Vec<u8>,
    /// Index of the sent packet this is a copy of.
    pub index: usize,
    /// A bit was flipped on the way.
    pub corrupted: bool,
}

/// Runs `sent` through `imp`; arrivals come back in delivery order (ties in send order).
pub fn transmit(imp: &mut Impairment, sent: &[SentPacket]) -> (Vec<Arrival>, NetworkCounters) {
    let mut c = NetworkCounters { packets_sent: sent.len() as u64, ..Default::default() };
    let mut arrivals = Vec::with_capacity(sent.len());
    let (mut lost, mut bursts, mut prev_lost) = (0u64, 0u64, false);
    for (index, p) in sent.iter().enumerate() {
        let outcome = imp.on_packet(p.at, PacketMeta { size: p.bytes.len() as u32 + IP_UDP_OVERHEAD });
        let is_lost = matches!(outcome, Outcome::Dropped(_));
        lost += u64::from(is_lost);
        bursts += u64::from(is_lost && !prev_lost);
        prev_lost = is_lost;
        match outcome {
            Outcome::Dropped(DropCause::Loss) => c.lost_loss_model += 1,
            Outcome::Dropped(DropCause::Blackout) => c.lost_blackout += 1,
            Outcome::Dropped(DropCause::QueueOverflow) => c.lost_queue_overflow += 1,
            Outcome::Delivered { duplicate, .. } => {
                c.packets_delivered += 1;
                c.duplicates += u64::from(duplicate.is_some());
                for d in outcome.deliveries() {
                    let mut bytes = p.bytes.clone();
                    if let Some(bit) = d.corruption {
                        // The bit index counts wire bytes; only RTP bytes exist here, so flip
                        // within them (bits landing in IP/UDP headers would fail checksums
                        // and be dropped by the kernel, which the counters still record).
                        let b = bit.bit as usize;
                        if b / 8 < bytes.len() {
                            bytes[b / 8] ^= 1 << (b % 8);
                        }
                        c.corrupted += 1;
                    }
                    arrivals.push(Arrival { at: d.at, bytes, index, corrupted: d.corruption.is_some() });
                }
            }
        }
    }
    c.loss_rate = if sent.is_empty() { 0.0 } else { lost as f64 / sent.len() as f64 };
    c.mean_burst = if bursts == 0 { 0.0 } else { lost as f64 / bursts as f64 };
    arrivals.sort_by_key(|a| (a.at, a.index));
    (arrivals, c)
}
