//! Jitter distributions: sampling for the impairment core and the CDF for the expectations.
//!
//! Transcendental functions come from `libm` (pure Rust), so a seed produces the same delays
//! on every CPU and operating system.

use crate::profile::{Delay, Distribution};
use crate::rng::Stream;

/// Pareto shape used for the heavy-tailed tables (netem's pareto tables use 3 as well).
const PARETO_SHAPE: f64 = 3.0;
/// Mean and standard deviation of Pareto(shape 3, scale 1), used to standardise it.
const PARETO_MEAN: f64 = 1.5;
const PARETO_SD: f64 = 0.866_025_403_784_438_6; // sqrt(3/4)

/// A delay distribution in milliseconds: `ms + jitter_ms × Z`, clamped at zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayDistribution {
    pub mean_ms: f64,
    pub spread_ms: f64,
    pub kind: Distribution,
}

impl From<&Delay> for DelayDistribution {
    fn from(d: &Delay) -> Self {
        DelayDistribution { mean_ms: d.ms.ms(), spread_ms: d.jitter_ms.ms(), kind: d.distribution }
    }
}

impl DelayDistribution {
    pub fn is_fixed(&self) -> bool {
        self.spread_ms == 0.0
    }

    /// Draws one delay in milliseconds (never negative: a packet cannot arrive before it is sent).
    pub fn sample(&self, rng: &mut Stream) -> f64 {
        if self.is_fixed() {
            return self.mean_ms;
        }
        let z = match self.kind {
            Distribution::Uniform => 2.0 * rng.uniform() - 1.0,
            Distribution::Normal => standard_normal(rng),
            Distribution::Pareto => standard_pareto(rng),
            Distribution::Paretonormal => {
                let n = standard_normal(rng);
                let p = standard_pareto(rng);
                (n + 3.0 * p) / libm::sqrt(10.0)
            }
        };
        (self.mean_ms + self.spread_ms * z).max(0.0)
    }

    /// P(delay <= x ms), including the clamp at zero.
    pub fn cdf(&self, x: f64) -> f64 {
        if x < 0.0 {
            return 0.0;
        }
        if self.is_fixed() {
            return if x >= self.mean_ms { 1.0 } else { 0.0 };
        }
        standard_cdf(self.kind, (x - self.mean_ms) / self.spread_ms)
    }

    /// A delay above which the remaining probability is negligible (< 1e-9 for light tails).
    pub fn upper_bound_ms(&self) -> f64 {
        let k = match self.kind {
            Distribution::Uniform => 1.0,
            Distribution::Normal => 7.0,
            // Pareto tails are polynomial: 1e-6 of the mass lies beyond ~115 σ; the expectation
            // only needs percentiles up to p99, so a bound at 60 σ loses nothing visible there.
            Distribution::Pareto | Distribution::Paretonormal => 60.0,
        };
        self.mean_ms + k * self.spread_ms
    }
}

fn standard_normal(rng: &mut Stream) -> f64 {
    let u1 = rng.uniform_open0();
    let u2 = rng.uniform();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

fn standard_pareto(rng: &mut Stream) -> f64 {
    let x = libm::pow(rng.uniform_open0(), -1.0 / PARETO_SHAPE);
    (x - PARETO_MEAN) / PARETO_SD
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

fn pareto_cdf(z: f64) -> f64 {
    let x = PARETO_MEAN + PARETO_SD * z;
    if x <= 1.0 { 0.0 } else { 1.0 - libm::pow(x, -PARETO_SHAPE) }
}

/// CDF of the standardised variate Z of each distribution.
pub fn standard_cdf(kind: Distribution, z: f64) -> f64 {
    match kind {
        Distribution::Uniform => ((z + 1.0) / 2.0).clamp(0.0, 1.0),
        Distribution::Normal => normal_cdf(z),
        Distribution::Pareto => pareto_cdf(z),
        Distribution::Paretonormal => {
            // P((N + 3P)/√10 <= z) = E_N[ F_P((z√10 − N)/3) ], integrated over N by Simpson's rule.
            let s = libm::sqrt(10.0);
            let (lo, hi, steps) = (-9.0_f64, 9.0_f64, 720usize);
            let h = (hi - lo) / steps as f64;
            let f = |n: f64| {
                let pdf = libm::exp(-0.5 * n * n) / libm::sqrt(2.0 * std::f64::consts::PI);
                pdf * pareto_cdf((z * s - n) / 3.0)
            };
            let mut acc = f(lo) + f(hi);
            for i in 1..steps {
                let w = if i % 2 == 1 { 4.0 } else { 2.0 };
                acc += w * f(lo + i as f64 * h);
            }
            (acc * h / 3.0).clamp(0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::StreamId;

    fn check_moments(kind: Distribution) {
        let d = DelayDistribution { mean_ms: 1000.0, spread_ms: 10.0, kind };
        let mut rng = Stream::new(3, 0, StreamId::Delay);
        let n = 400_000;
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        let want_sd = if kind == Distribution::Uniform { 10.0 / 3f64.sqrt() } else { 10.0 };
        assert!((mean - 1000.0).abs() < 0.1, "{kind:?} mean {mean}");
        // Shape-3 Pareto tails have no fourth moment, so the sample sd converges slowly.
        let sd_tol = if matches!(kind, Distribution::Pareto | Distribution::Paretonormal) { 0.10 } else { 0.03 };
        assert!((var.sqrt() - want_sd).abs() / want_sd < sd_tol, "{kind:?} sd {}", var.sqrt());
        // The empirical CDF agrees with the analytic one at a few points.
        for x in [985.0, 995.0, 1000.0, 1005.0, 1020.0] {
            let emp = xs.iter().filter(|&&v| v <= x).count() as f64 / n as f64;
            assert!((emp - d.cdf(x)).abs() < 0.005, "{kind:?} cdf({x}) {emp} vs {}", d.cdf(x));
        }
    }

    #[test]
    fn uniform_matches_cdf() {
        check_moments(Distribution::Uniform);
    }

    #[test]
    fn normal_matches_cdf() {
        check_moments(Distribution::Normal);
    }

    #[test]
    fn pareto_matches_cdf() {
        check_moments(Distribution::Pareto);
    }

    #[test]
    fn paretonormal_matches_cdf() {
        check_moments(Distribution::Paretonormal);
    }

    #[test]
    fn clamped_at_zero() {
        let d = DelayDistribution { mean_ms: 1.0, spread_ms: 10.0, kind: Distribution::Normal };
        let mut rng = Stream::new(1, 0, StreamId::Delay);
        assert!((0..10_000).all(|_| d.sample(&mut rng) >= 0.0));
        assert!(d.cdf(0.0) > 0.4);
        assert_eq!(d.cdf(-0.1), 0.0);
    }
}
