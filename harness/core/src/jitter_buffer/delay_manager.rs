//! NetEq-style delay manager: the target playout delay as a quantile of the relative arrival
//! delay, tracked in a histogram with exponential forgetting.

use serde::{Deserialize, Serialize};

/// How eagerly an adaptive buffer trades latency for fewer late losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Keeps latency low: 90th percentile, quick to shrink.
    Conservative,
    /// NetEq's defaults: 95th percentile, forget factor 0.983.
    Balanced,
    /// Rides out jitter: 99th percentile, long memory, 20 ms of margin.
    Aggressive,
}

impl Strategy {
    fn quantile(self) -> f64 {
        match self {
            Strategy::Conservative => 0.90,
            Strategy::Balanced => 0.95,
            Strategy::Aggressive => 0.99,
        }
    }

    fn forget_factor(self) -> f64 {
        match self {
            Strategy::Conservative => 0.98,
            Strategy::Balanced => 0.983,
            Strategy::Aggressive => 0.9993,
        }
    }

    fn margin_ms(self) -> f64 {
        match self {
            Strategy::Aggressive => 20.0,
            _ => 0.0,
        }
    }
}

const BUCKET_MS: f64 = 5.0;
const BUCKETS: usize = 400; // up to 2 s of relative delay
/// Relative delay is measured against the fastest packet of this window (NetEq uses 2 s).
const WINDOW_MS: f64 = 2000.0;

/// Tracks relative delay and yields the target buffer level.
#[derive(Debug, Clone)]
pub struct DelayManager {
    strategy: Strategy,
    histogram: Vec<f64>,
    /// (arrival ms, transit ms) of recent packets, for the windowed minimum transit.
    recent: std::collections::VecDeque<(f64, f64)>,
    packets: u64,
}

impl DelayManager {
    pub fn new(strategy: Strategy) -> Self {
        DelayManager { strategy, histogram: vec![0.0; BUCKETS], recent: Default::default(), packets: 0 }
    }

    /// Records a packet that arrived at `arrival_ms` carrying media time `media_ms`.
    pub fn update(&mut self, arrival_ms: f64, media_ms: f64) {
        let transit = arrival_ms - media_ms;
        while self.recent.front().is_some_and(|&(a, _)| a < arrival_ms - WINDOW_MS) {
            self.recent.pop_front();
        }
        self.recent.push_back((arrival_ms, transit));
        let fastest = self.recent.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        let relative = (transit - fastest).max(0.0);
        let bucket = ((relative / BUCKET_MS) as usize).min(BUCKETS - 1);
        // Early on, forget faster so the first packets do not dominate (NetEq's start weight).
        self.packets += 1;
        let ff = self.strategy.forget_factor().min(1.0 - 1.0 / (self.packets as f64 + 1.0));
        for h in &mut self.histogram {
            *h *= ff;
        }
        self.histogram[bucket] += 1.0 - ff;
    }

    /// Target delay in milliseconds for frames of `frame_ms`: the quantile of relative delay,
    /// plus one frame (a whole frame must be buffered), plus the strategy's margin.
    pub fn target_ms(&self, frame_ms: f64) -> f64 {
        let total: f64 = self.histogram.iter().sum();
        let mut q = 0.0;
        if total > 0.0 {
            let mut acc = 0.0;
            for (i, h) in self.histogram.iter().enumerate() {
                acc += h / total;
                if acc >= self.strategy.quantile() {
                    q = (i + 1) as f64 * BUCKET_MS;
                    break;
                }
            }
        }
        q + frame_ms + self.strategy.margin_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_arrivals_target_one_frame() {
        let mut dm = DelayManager::new(Strategy::Balanced);
        for i in 0..500 {
            dm.update(i as f64 * 20.0 + 30.0, i as f64 * 20.0);
        }
        assert_eq!(dm.target_ms(20.0), 25.0); // one 5 ms bucket of rounding + one frame
    }

    #[test]
    fn jitter_raises_target_and_aggressive_exceeds_conservative() {
        let mut targets = Vec::new();
        for s in [Strategy::Conservative, Strategy::Balanced, Strategy::Aggressive] {
            let mut dm = DelayManager::new(s);
            for i in 0..3000 {
                // Every 10th packet 60 ms late, others 0–9 ms late.
                let extra = if i % 10 == 0 { 60.0 } else { (i % 7) as f64 };
                dm.update(i as f64 * 20.0 + 30.0 + extra, i as f64 * 20.0);
            }
            targets.push(dm.target_ms(20.0));
        }
        assert!(targets[0] < targets[1] || targets[0] < targets[2], "{targets:?}");
        assert!(targets[2] >= 80.0, "{targets:?}");
        assert!(targets[0] <= 35.0, "{targets:?}");
    }
}
