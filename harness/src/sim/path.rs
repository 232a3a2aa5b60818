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

/// Network counters of one direction, kept packet by packet (both simulator modes use it,
/// so loss inputs to the scores mean the same in both).
#[derive(Debug, Default)]
pub struct LossTally {
    c: NetworkCounters,
    lost: u64,
    bursts: u64,
    prev_lost: bool,
}

impl LossTally {
    pub fn record(&mut self, outcome: &Outcome) {
        self.c.packets_sent += 1;
        let is_lost = matches!(outcome, Outcome::Dropped(_));
        self.lost += u64::from(is_lost);
        self.bursts += u64::from(is_lost && !self.prev_lost);
        self.prev_lost = is_lost;
        match outcome {
            Outcome::Dropped(DropCause::Loss) => self.c.lost_loss_model += 1,
            Outcome::Dropped(DropCause::Blackout) => self.c.lost_blackout += 1,
            Outcome::Dropped(DropCause::QueueOverflow) => self.c.lost_queue_overflow += 1,
            Outcome::Delivered { duplicate, .. } => {
                self.c.packets_delivered += 1;
                self.c.duplicates += u64::from(duplicate.is_some());
                self.c.corrupted += outcome.deliveries().filter(|d| d.corruption.is_some()).count() as u64;
            }
        }
    }

    pub fn finish(mut self) -> NetworkCounters {
        let n = self.c.packets_sent;
        self.c.loss_rate = if n == 0 { 0.0 } else { self.lost as f64 / n as f64 };
        self.c.mean_burst = if self.bursts == 0 { 0.0 } else { self.lost as f64 / self.bursts as f64 };
        self.c
    }
}

/// Runs `sent` through `imp`; arrivals come back in delivery order (ties in send order).
pub fn transmit(imp: &mut Impairment, sent: &[SentPacket]) -> (Vec<Arrival>, NetworkCounters) {
    let mut tally = LossTally::default();
    let mut arrivals = Vec::with_capacity(sent.len());
    for (index, p) in sent.iter().enumerate() {
        let outcome = imp.on_packet(p.at, PacketMeta { size: p.bytes.len() as u32 + IP_UDP_OVERHEAD });
        tally.record(&outcome);
        if let Outcome::Delivered { .. } = outcome {
            for d in outcome.deliveries() {
                let mut bytes = p.bytes.clone();
                if let Some(bit) = d.corruption {
                    // The bit index counts wire bytes; only RTP bytes exist here, so flip within
                    // them (bits landing in IP/UDP headers would fail checksums, which the
                    // counters still record as corrupted).
                    let b = bit.bit as usize;
                    if b / 8 < bytes.len() {
                        bytes[b / 8] ^= 1 << (b % 8);
                    }
                }
                arrivals.push(Arrival { at: d.at, bytes, index, corrupted: d.corruption.is_some() });
            }
        }
    }
    arrivals.sort_by_key(|a| (a.at, a.index));
    (arrivals, tally.finish())
}
