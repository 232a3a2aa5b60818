//! A probability histogram with exponential forgetting, in NetEq's fixed-point arithmetic
//! (libwebrtc `modules/audio_coding/neteq/histogram.cc`, `Histogram`): buckets are
//! probabilities in Q30 that sum to exactly 2^30, the forget factor is Q15, and a start weight
//! makes the first samples count fully. Integer arithmetic keeps it exact on every machine.

/// 1.0 in Q30.
const ONE_Q30: i64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<i32>,
    /// Q15; grows from 0 to `base_forget_factor` over the first adds.
    forget_factor: i32,
    base_forget_factor: i32,
    start_forget_weight: f64,
    adds: u64,
}

impl Histogram {
    /// `forget_factor` as a fraction (NetEq stores `int(32768 × f)`).
    pub fn new(buckets: usize, forget_factor: f64, start_forget_weight: f64) -> Histogram {
        let mut h = Histogram {
            buckets: vec![0; buckets],
            forget_factor: 0,
            base_forget_factor: (32768.0 * forget_factor) as i32,
            start_forget_weight,
            adds: 0,
        };
        h.reset();
        h
    }

    /// Back to a geometric prior (bucket i ≈ 0.5^(i+1)) and the fastest forgetting
    /// (`Histogram::Reset`).
    pub fn reset(&mut self) {
        // Slightly more than 0.5 in Q14 halved repeatedly, so the buckets sum to 1 in Q30.
        let mut p: u16 = 0x4002;
        for b in &mut self.buckets {
            p >>= 1;
            *b = i32::from(p) << 16;
        }
        self.forget_factor = 0;
        self.adds = 0;
    }

    /// Buckets (never zero).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn buckets(&self) -> &[i32] {
        &self.buckets
    }

    /// The current forget factor, Q15.
    #[cfg(test)]
    pub fn forget_factor(&self) -> i32 {
        self.forget_factor
    }

    /// Observes `bucket` (`Histogram::Add`): every bucket is scaled by the forget factor, the
    /// observed one gains `1 − factor`, and rounding is pushed back into the first buckets so
    /// the sum stays exactly 1.
    pub fn add(&mut self, bucket: usize) {
        let ff = i64::from(self.forget_factor);
        let mut sum: i64 = 0;
        for b in &mut self.buckets {
            *b = ((i64::from(*b) * ff) >> 15) as i32;
            sum += i64::from(*b);
        }
        let gain = (32768 - ff) << 15;
        self.buckets[bucket] += gain as i32;
        sum += gain;
        let mut error = sum - ONE_Q30;
        if error != 0 {
            let sign = if error > 0 { -1 } else { 1 };
            for b in &mut self.buckets {
                let correction = sign * error.abs().min(i64::from(*b >> 4));
                *b += correction as i32;
                error += correction;
                if error == 0 {
                    break;
                }
            }
        }
        self.adds += 1;
        if self.forget_factor != self.base_forget_factor {
            let f = (32768.0 * (1.0 - self.start_forget_weight / (self.adds as f64 + 1.0))) as i32;
            self.forget_factor = f.clamp(0, self.base_forget_factor);
        }
    }

    /// The smallest bucket whose upper tail (the mass above it) is at most `1 − q`
    /// (`Histogram::Quantile`), `q` as a fraction.
    pub fn quantile(&self, q: f64) -> usize {
        let inverse = ONE_Q30 - (ONE_Q30 as f64 * q) as i64;
        let mut index = 0;
        let mut tail = ONE_Q30 - i64::from(self.buckets[0]);
        while tail > inverse && index < self.buckets.len() - 1 {
            index += 1;
            tail -= i64::from(self.buckets[index]);
        }
        index
    }

    #[cfg(test)]
    pub(crate) fn set(&mut self, buckets: &[f64]) {
        for (b, p) in self.buckets.iter_mut().zip(buckets.iter().chain(std::iter::repeat(&0.0))) {
            *b = (p * ONE_Q30 as f64) as i32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(h: &Histogram) -> i64 {
        h.buckets().iter().map(|&b| i64::from(b)).sum()
    }

    /// `Histogram::Add` with the start weight 2 (NetEq's `start_forget_weight`).
    #[test]
    fn start_forget_weight_ramps_the_factor_to_its_base() {
        let mut h = Histogram::new(100, 0.983, 2.0);
        let mut seen = Vec::new();
        for k in 1..=117 {
            h.add(k % 7);
            seen.push(h.forget_factor());
        }
        assert_eq!(&seen[..6], &[0, 10922, 16384, 19660, 21845, 23405]);
        assert_eq!(seen[115], 32207, "after add 116");
        assert_eq!(seen[116], 32210, "after add 117: the base, int(32768 × 0.983)");
    }

    /// The first two adds replace the histogram: their forget factor is 0.
    #[test]
    fn first_adds_replace_the_prior() {
        let mut h = Histogram::new(100, 0.983, 2.0);
        h.add(5);
        assert_eq!(h.quantile(0.95), 5);
        h.add(0);
        assert_eq!(h.quantile(0.95), 0);
    }

    /// `Histogram::Quantile`: the tail above the answer is at most 1 − q.
    #[test]
    fn quantile_rule() {
        let mut h = Histogram::new(100, 0.983, 2.0);
        h.set(&[0.94, 0.0, 0.0, 0.06]);
        assert_eq!(h.quantile(0.95), 3);
        h.set(&[0.96, 0.0, 0.0, 0.04]);
        assert_eq!(h.quantile(0.95), 0);
        h.set(&[0.95, 0.05]);
        assert_eq!(h.quantile(0.95), 0, "a tail equal to 1 − q stops the search");
    }

    #[test]
    fn the_sum_stays_exactly_one() {
        let mut h = Histogram::new(100, 0.983, 2.0);
        assert_eq!(sum(&h), ONE_Q30);
        let mut x: u64 = 12345;
        for _ in 0..1000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            h.add((x >> 33) as usize % 100);
            assert_eq!(sum(&h), ONE_Q30);
        }
    }
}
