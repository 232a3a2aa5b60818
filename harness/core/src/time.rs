//! Virtual time. Cores are told the time; they never read a clock.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time, in integer nanoseconds since the start of a scenario.
///
/// Integer nanoseconds keep arithmetic exact and identical on every machine; the
/// live drivers map their monotonic clock onto it, the simulator just counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);
    /// Later than any call: what a driver passes to drain everything still in flight.
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        Timestamp(ns)
    }

    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms * 1_000_000)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time elapsed since `earlier`, saturating at zero.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0 + d.as_nanos() as u64)
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Duration;
    /// Panics in debug builds when `rhs` is later; use `saturating_since` when that can happen.
    fn sub(self, rhs: Timestamp) -> Duration {
        Duration::from_nanos(self.0 - rhs.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6} s", self.as_secs_f64())
    }
}

/// Converts a non-negative number of milliseconds to a `Duration`, rounding to the nanosecond.
pub fn millis_f64(ms: f64) -> Duration {
    debug_assert!(ms >= 0.0 && ms.is_finite());
    Duration::from_nanos(libm::round(ms * 1e6) as u64)
}
