//! The delay that keeps underruns rare (libwebrtc `neteq/underrun_optimizer.cc`,
//! `UnderrunOptimizer::Update`): each resample interval contributes the *largest* arrival
//! delay seen in it to a histogram of 20 ms buckets, and the target is one bucket above the
//! histogram's quantile.

use super::histogram::Histogram;

pub const BUCKET_MS: i32 = 20;
pub const BUCKETS: usize = 100;

#[derive(Debug, Clone)]
pub struct UnderrunOptimizer {
    histogram: Histogram,
    quantile: f64,
    /// ms; `None` updates the histogram with every packet.
    resample_interval_ms: Option<i32>,
    /// Tick at which the current interval started.
    interval_start: Option<u64>,
    max_in_interval_ms: i32,
    optimal_ms: Option<i32>,
}

impl UnderrunOptimizer {
    pub fn new(quantile: f64, forget_factor: f64, start_forget_weight: f64, resample_interval_ms: Option<i32>) -> Self {
        UnderrunOptimizer {
            histogram: Histogram::new(BUCKETS, forget_factor, start_forget_weight),
            quantile,
            resample_interval_ms,
            interval_start: None,
            max_in_interval_ms: 0,
            optimal_ms: None,
        }
    }

    /// A packet's arrival delay `delay_ms`, observed at `tick` (10 ms ticks).
    pub fn update(&mut self, delay_ms: i32, tick: u64) {
        let sample = match self.resample_interval_ms {
            None => Some(delay_ms),
            Some(interval) => {
                let start = *self.interval_start.get_or_insert(tick);
                let elapsed_ms = (tick - start) as i64 * 10;
                let mut sample = None;
                // Strictly longer than the interval: the maximum so far, without this packet.
                if elapsed_ms > i64::from(interval) {
                    sample = Some(self.max_in_interval_ms);
                    self.interval_start = Some(tick);
                    self.max_in_interval_ms = 0;
                }
                self.max_in_interval_ms = self.max_in_interval_ms.max(delay_ms);
                sample
            }
        };
        let Some(v) = sample else { return };
        let bucket = (v / BUCKET_MS) as usize;
        if bucket < self.histogram.len() {
            self.histogram.add(bucket);
        }
        self.optimal_ms = Some((1 + self.histogram.quantile(self.quantile) as i32) * BUCKET_MS);
    }

    /// `None` until the histogram has had its first update.
    pub fn optimal_ms(&self) -> Option<i32> {
        self.optimal_ms
    }

    pub fn reset(&mut self) {
        self.histogram.reset();
        self.interval_start = None;
        self.max_in_interval_ms = 0;
        self.optimal_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn optimizer() -> UnderrunOptimizer {
        UnderrunOptimizer::new(0.95, 0.983, 2.0, Some(500))
    }

    /// The histogram takes the largest delay of each (strictly) 500 ms interval.
    #[test]
    fn resampling_keeps_each_intervals_maximum() {
        let mut u = optimizer();
        // One packet every 2 ticks (20 ms); 100 ms of delay at 200 ms, none otherwise.
        let at = |ms: u64, d: i32, u: &mut UnderrunOptimizer| u.update(d, ms / 10);
        for ms in (0..=500).step_by(20) {
            at(ms, if ms == 200 { 100 } else { 0 }, &mut u);
            assert_eq!(u.optimal_ms(), None, "no update until more than 500 ms have passed ({ms} ms)");
        }
        at(520, 0, &mut u);
        assert_eq!(u.optimal_ms(), Some(120), "(1 + 100/20) × 20");
        for ms in (540..1040).step_by(20) {
            at(ms, 0, &mut u);
        }
        at(1040, 0, &mut u);
        assert_eq!(u.optimal_ms(), Some(20), "the second add also replaces the histogram");
        for ms in (1060..1560).step_by(20) {
            at(ms, if ms == 1100 { 2000 } else { 0 }, &mut u);
        }
        at(1560, 0, &mut u);
        assert_eq!(u.optimal_ms(), Some(20), "2000 ms falls outside the 100 buckets and is dropped");
    }

    #[test]
    fn exactly_the_interval_does_not_update() {
        let mut u = optimizer();
        u.update(40, 0);
        u.update(0, 50);
        assert_eq!(u.optimal_ms(), None, "500 ms elapsed is not more than 500 ms");
        u.update(0, 51);
        assert_eq!(u.optimal_ms(), Some(60));
    }
}
