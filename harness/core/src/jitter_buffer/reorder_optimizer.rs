//! The delay worth paying to play reordered packets (libwebrtc
//! `neteq/reorder_optimizer.cc`, `ReorderOptimizer`): a histogram of reordered packets'
//! delays (in-order packets count in bucket 0), and the bucket that minimises added delay plus
//! a price per percent of reordered packets lost.

use super::histogram::Histogram;
use super::underrun_optimizer::{BUCKET_MS, BUCKETS};

#[derive(Debug, Clone)]
pub struct ReorderOptimizer {
    histogram: Histogram,
    ms_per_loss_percent: i64,
    optimal_ms: Option<i32>,
}

impl ReorderOptimizer {
    pub fn new(forget_factor: f64, start_forget_weight: f64, ms_per_loss_percent: i64) -> Self {
        ReorderOptimizer {
            histogram: Histogram::new(BUCKETS, forget_factor, start_forget_weight),
            ms_per_loss_percent,
            optimal_ms: None,
        }
    }

    /// Every packet: its delay, whether it was reordered, and the underrun target it adds to.
    pub fn update(&mut self, delay_ms: i32, reordered: bool, base_delay_ms: i32) {
        let bucket = if reordered { (delay_ms / BUCKET_MS) as usize } else { 0 };
        if bucket < self.histogram.len() {
            self.histogram.add(bucket);
        }
        self.optimal_ms = Some((1 + self.minimize_cost(base_delay_ms) as i32) * BUCKET_MS);
    }

    /// `argmin_i max(0, 20 i − base) + 100 · ms_per_loss_percent · P(delay bucket > i)`, in Q30
    /// (`ReorderOptimizer::MinimizeCostFunction`).
    fn minimize_cost(&self, base_delay_ms: i32) -> usize {
        let mut tail: i64 = 1 << 30;
        let (mut best_cost, mut best) = (i64::MAX, 0);
        for (i, &b) in self.histogram.buckets().iter().enumerate() {
            tail -= i64::from(b);
            let delay = i64::from((i as i32 * BUCKET_MS - base_delay_ms).max(0)) << 30;
            let cost = delay + 100 * self.ms_per_loss_percent * tail;
            if cost < best_cost {
                best_cost = cost;
                best = i;
            }
            if tail == 0 {
                break;
            }
        }
        best
    }

    pub fn optimal_ms(&self) -> Option<i32> {
        self.optimal_ms
    }

    pub fn reset(&mut self) {
        self.histogram.reset();
        self.optimal_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_mass(mass: &[(usize, f64)]) -> ReorderOptimizer {
        let mut r = ReorderOptimizer::new(0.9993, 2.0, 20);
        let mut v = vec![0.0; BUCKETS];
        for &(i, p) in mass {
            v[i] = p;
        }
        r.histogram.set(&v);
        r
    }

    /// `MinimizeCostFunction` with a base of 20 ms and 20 ms per percent of loss.
    #[test]
    fn cost_function() {
        assert_eq!((1 + with_mass(&[(0, 0.95), (5, 0.05)]).minimize_cost(20)) * 20, 120);
        assert_eq!((1 + with_mass(&[(0, 0.97), (5, 0.03)]).minimize_cost(20)) * 20, 20);
        let mut r = ReorderOptimizer::new(0.9993, 2.0, 20);
        for _ in 0..50 {
            r.update(0, false, 20);
        }
        assert_eq!(r.optimal_ms(), Some(20), "nothing reordered");
    }
}
