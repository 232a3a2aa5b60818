//! Network counters of one direction, kept packet by packet, so every driver's loss inputs to
//! the scores mean the same.

use crate::impairment::{DropCause, Outcome};
use crate::results::NetworkCounters;

#[derive(Debug, Default, Clone)]
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

    pub fn finish(&self) -> NetworkCounters {
        let mut c = self.c;
        let n = c.packets_sent;
        c.loss_rate = if n == 0 { 0.0 } else { self.lost as f64 / n as f64 };
        c.mean_burst = if self.bursts == 0 { 0.0 } else { self.lost as f64 / self.bursts as f64 };
        c
    }
}
