//! The target playout delay (libwebrtc `neteq/delay_manager.cc`, `DelayManager::Update`): the
//! larger of the underrun optimizer's delay (80 ms until its first update) and the reorder
//! optimizer's, then clamped by the minimum and maximum delays and the buffer's capacity
//! (`neteq/delay_constraints.cc`, `DelayConstraints::Clamp`).

use serde::{Deserialize, Serialize};

use super::reorder_optimizer::ReorderOptimizer;
use super::underrun_optimizer::UnderrunOptimizer;

/// How eagerly an adaptive buffer trades latency for fewer late losses. Each is a set of
/// NetEq's delay-manager parameters; the time-stretching and concealment rules are the same
/// for all three, so what differs is only the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Latency first: a lower quantile, shorter memory, cheap reorder losses, 200 ms cap.
    Conservative,
    /// NetEq's defaults, as Chromium runs them: the one to compare with a browser.
    Balanced,
    /// Resilience first: a higher quantile, long memory, dear reorder losses, 120 ms start.
    Aggressive,
}

/// NetEq's `DelayManager::Config` knobs for a strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayParams {
    /// Quantile of the per-interval maximum delays (NetEq `quantile`, default 0.95).
    pub quantile: f64,
    /// Per histogram update (NetEq `forget_factor`, default 0.983).
    pub forget_factor: f64,
    /// NetEq `start_forget_weight`, default 2.
    pub start_forget_weight: f64,
    /// NetEq `resample_interval_ms`, default 500.
    pub resample_interval_ms: i32,
    /// NetEq `reorder_forget_factor`, default 0.9993 (per packet).
    pub reorder_forget_factor: f64,
    /// NetEq `ms_per_loss_percent`, default 20.
    pub ms_per_loss_percent: i64,
    /// Target before the first histogram update (NetEq `kStartDelayMs`, 80 ms).
    pub start_delay_ms: i32,
    /// A ceiling on the target; `None` leaves only the capacity cap.
    pub max_delay_ms: Option<i32>,
}

impl Strategy {
    /// Balanced is NetEq's configuration exactly; the other two move the target knobs only
    /// (docs/neteq-port.md, section 8).
    pub fn params(self) -> DelayParams {
        let balanced = DelayParams {
            quantile: 0.95,
            forget_factor: 0.983,
            start_forget_weight: 2.0,
            resample_interval_ms: 500,
            reorder_forget_factor: 0.9993,
            ms_per_loss_percent: 20,
            start_delay_ms: 80,
            max_delay_ms: None,
        };
        match self {
            Strategy::Balanced => balanced,
            Strategy::Conservative => DelayParams {
                quantile: 0.90,
                forget_factor: 0.97,
                ms_per_loss_percent: 10,
                start_delay_ms: 40,
                max_delay_ms: Some(200),
                ..balanced
            },
            Strategy::Aggressive => DelayParams {
                quantile: 0.98,
                forget_factor: 0.993,
                ms_per_loss_percent: 40,
                start_delay_ms: 120,
                ..balanced
            },
        }
    }
}

/// Packets a buffer holds before it flushes (NetEq's `max_packets_in_buffer`, Chromium 200).
pub const MAX_PACKETS: usize = 200;

#[derive(Debug, Clone)]
pub struct DelayManager {
    params: DelayParams,
    underrun: UnderrunOptimizer,
    reorder: ReorderOptimizer,
    target_ms: i32,
    /// The floor (`min_delay_ms`: NetEq's base minimum delay) and the ceiling, ms.
    min_delay_ms: i32,
    max_delay_ms: Option<i32>,
    packet_ms: Option<i32>,
}

impl DelayManager {
    pub fn new(strategy: Strategy, min_delay_ms: f64, max_delay_ms: Option<f64>) -> Self {
        let p = strategy.params();
        DelayManager {
            underrun: UnderrunOptimizer::new(
                p.quantile,
                p.forget_factor,
                p.start_forget_weight,
                Some(p.resample_interval_ms),
            ),
            reorder: ReorderOptimizer::new(p.reorder_forget_factor, p.start_forget_weight, p.ms_per_loss_percent),
            target_ms: p.start_delay_ms,
            min_delay_ms: min_delay_ms.max(0.0) as i32,
            max_delay_ms: max_delay_ms.map(|m| m as i32).or(p.max_delay_ms).filter(|&m| m > 0),
            packet_ms: None,
            params: p,
        }
    }

    /// One packet's arrival delay, whether it was reordered, at `tick`.
    pub fn update(&mut self, delay_ms: i32, reordered: bool, tick: u64) {
        if !reordered {
            self.underrun.update(delay_ms, tick);
        }
        self.target_ms = self.underrun.optimal_ms().unwrap_or(self.params.start_delay_ms);
        self.reorder.update(delay_ms, reordered, self.target_ms);
        self.target_ms = self.target_ms.max(self.reorder.optimal_ms().unwrap_or(0));
    }

    /// The packets' length, which bounds how much the buffer can hold.
    pub fn set_packet_ms(&mut self, ms: i32) {
        self.packet_ms = (ms > 0).then_some(ms);
    }

    /// The delay manager's own target, before any limit (`UnlimitedTargetLevelMs`).
    pub fn unlimited_target_ms(&self) -> i32 {
        self.target_ms
    }

    /// The target after the limits (`TargetLevelMs` = `DelayConstraints::Clamp`).
    pub fn target_ms(&self) -> i32 {
        let capacity = self.packet_ms.map(|p| 3 * MAX_PACKETS as i32 * p / 4);
        let upper = self.max_delay_ms.unwrap_or(10_000).min(capacity.unwrap_or(10_000));
        let mut t = self.target_ms.max(self.min_delay_ms.clamp(0, upper));
        if let Some(max) = self.max_delay_ms {
            t = t.min(max);
        }
        if let Some(cap) = capacity {
            t = t.min(cap);
        }
        t
    }

    pub fn reset(&mut self) {
        self.underrun.reset();
        self.reorder.reset();
        self.target_ms = self.params.start_delay_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `DelayManager::Update`: 80 ms until the underrun optimizer's first update, then the
    /// larger of the two optimizers; a reordered packet never reaches the underrun histogram.
    #[test]
    fn combination_of_the_two_optimizers() {
        let mut dm = DelayManager::new(Strategy::Balanced, 0.0, None);
        dm.update(0, false, 0);
        assert_eq!(dm.unlimited_target_ms(), 80);
        for tick in (2..=52).step_by(2) {
            dm.update(0, false, tick);
        }
        assert_eq!(dm.unlimited_target_ms(), 20);
        // Heavy reordering at 100 ms: the reorder optimizer asks for more than the underrun one.
        for tick in (54..600).step_by(2) {
            dm.update(100, true, tick);
        }
        assert_eq!(dm.unlimited_target_ms(), 120, "reordered packets count only in the reorder histogram");
        dm.reset();
        assert_eq!(dm.unlimited_target_ms(), 80);
    }

    /// `DelayConstraints::Clamp`: minimum, maximum and ¾ of the buffer's capacity.
    #[test]
    fn constraints() {
        let mut dm = DelayManager::new(Strategy::Balanced, 0.0, None);
        dm.set_packet_ms(20);
        dm.target_ms = 5000;
        assert_eq!(dm.target_ms(), 3000, "3/4 of 200 packets of 20 ms");
        let mut floor = DelayManager::new(Strategy::Balanced, 150.0, None);
        floor.target_ms = 80;
        assert_eq!(floor.target_ms(), 150);
        let mut ceiling = DelayManager::new(Strategy::Balanced, 0.0, Some(100.0));
        ceiling.target_ms = 120;
        assert_eq!(ceiling.target_ms(), 100);
        let mut both = DelayManager::new(Strategy::Balanced, 5000.0, Some(1000.0));
        both.target_ms = 80;
        assert_eq!(both.target_ms(), 1000, "the floor is clamped to the ceiling");
    }
}
