//! Seeded, portable randomness.
//!
//! Every random choice in Jitterbug comes from a [`Stream`] derived from the scenario seed
//! and a fixed stream label, so that (a) the same seed replays the same run on every machine
//! and (b) enabling one impairment does not shift the random numbers another one sees.

use rand_core::RngCore;
use rand_pcg::Pcg64Mcg;

/// Independent random streams of one impairment direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum StreamId {
    Loss = 1,
    Delay = 2,
    Reorder = 3,
    Duplicate = 4,
    Corrupt = 5,
    Nat = 6,
    Media = 7,
}

/// One PCG-64 (MCG variant) stream: fast, portable and pinned by its crate version.
#[derive(Debug, Clone)]
pub struct Stream(Pcg64Mcg);

impl Stream {
    /// Derives a stream from a scenario seed, a label (e.g. direction) and a stream id.
    pub fn new(seed: u64, label: u64, id: StreamId) -> Self {
        let hi = splitmix64(seed ^ splitmix64(label));
        let lo = splitmix64(hi ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // The MCG state must be odd; the low bit is forced by the generator itself.
        Stream(Pcg64Mcg::new(((hi as u128) << 64) | lo as u128))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1) with 53 bits of precision (identical on every platform).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    pub fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// True with probability `p` (a fraction in [0, 1]).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform() < p
    }

    /// Uniform integer in [0, n), n > 0, without modulo bias worth mentioning for n < 2^32.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// SplitMix64 finaliser: a bijective mixer used only to derive stream seeds.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = Stream::new(7, 1, StreamId::Loss);
        let mut b = Stream::new(7, 1, StreamId::Loss);
        let mut c = Stream::new(7, 1, StreamId::Delay);
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn pinned_first_value() {
        // Pins the generator: if a dependency bump changes the stream, replays would silently
        // differ from recorded runs, so this must fail loudly instead.
        let mut s = Stream::new(42, 0, StreamId::Loss);
        let first = s.next_u64();
        assert_eq!(first, Stream::new(42, 0, StreamId::Loss).next_u64());
        assert_eq!(first, PINNED_SEED42_LOSS);
    }

    const PINNED_SEED42_LOSS: u64 = 10_296_766_234_566_581_300;

    #[test]
    fn uniform_in_range() {
        let mut s = Stream::new(1, 2, StreamId::Corrupt);
        for _ in 0..10_000 {
            let u = s.uniform();
            assert!((0.0..1.0).contains(&u));
            assert!(s.below(10) < 10);
        }
    }
}
