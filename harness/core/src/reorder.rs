//! netem's reordering: after `gap − 1` packets went through normally, each packet skips the
//! delay with probability P (correlated by a repeat-the-last-decision chain), jumping ahead of
//! the packets still in flight.

use crate::profile::Reorder;
use crate::rng::Stream;

#[derive(Debug, Clone)]
pub struct ReorderGate {
    p: f64,
    rho: f64,
    gap: u32,
    counter: u32,
    last: Option<bool>,
}

impl ReorderGate {
    pub fn new(r: &Reorder) -> Self {
        ReorderGate {
            p: r.percent.fraction(),
            rho: r.correlation_percent.fraction(),
            gap: r.gap.max(1),
            counter: 0,
            last: None,
        }
    }

    /// True when this packet is sent at once instead of delayed.
    pub fn send_now(&mut self, rng: &mut Stream) -> bool {
        if self.counter + 1 < self.gap {
            self.counter += 1;
            return false;
        }
        let pick = match self.last {
            Some(prev) if rng.chance(self.rho) => prev,
            _ => rng.chance(self.p),
        };
        self.last = Some(pick);
        if pick {
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        pick
    }

    /// Long-run fraction of packets sent at once: one per cycle of gap − 1 forced normals
    /// plus a geometric number of tries (ignoring correlation).
    pub fn expected_rate(r: &Reorder) -> f64 {
        let p = r.percent.fraction();
        if p == 0.0 { 0.0 } else { 1.0 / ((r.gap.max(1) - 1) as f64 + 1.0 / p) }
    }
}
