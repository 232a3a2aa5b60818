//! Delay with correlated jitter.

use crate::distribution::DelayDistribution;
use crate::profile::Delay;
use crate::rng::Stream;

/// Draws per-packet delays; correlation is a Markov chain that repeats the previous value with
/// probability ρ, so the configured distribution (and its percentiles) stays exact.
#[derive(Debug, Clone)]
pub struct DelayModel {
    dist: DelayDistribution,
    rho: f64,
    last: Option<f64>,
}

impl DelayModel {
    pub fn new(delay: &Delay) -> Self {
        DelayModel { dist: delay.into(), rho: delay.correlation_percent.fraction(), last: None }
    }

    /// Next delay in milliseconds.
    pub fn next_ms(&mut self, rng: &mut Stream) -> f64 {
        if self.dist.is_fixed() {
            return self.dist.mean_ms;
        }
        let d = match self.last {
            Some(prev) if rng.chance(self.rho) => prev,
            _ => self.dist.sample(rng),
        };
        self.last = Some(d);
        d
    }
}
