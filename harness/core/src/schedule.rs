//! Which schedule segment is active at a given time.

use std::time::Duration;

use crate::profile::DirectionSpec;
use crate::time::Timestamp;

/// Segment windows of one direction, optionally repeating with a period.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    windows: Vec<(Duration, Duration)>,
    period: Option<Duration>,
}

impl Schedule {
    pub fn new(spec: &DirectionSpec) -> Self {
        Schedule { windows: spec.schedule.iter().map(|s| (s.from(), s.until())).collect(), period: spec.period() }
    }

    /// Index of the segment active at `now`, or `None` for the base conditions.
    pub fn active(&self, now: Timestamp) -> Option<usize> {
        if self.windows.is_empty() {
            return None;
        }
        let mut t = now.as_nanos();
        if let Some(p) = self.period {
            t %= p.as_nanos() as u64;
        }
        let t = Duration::from_nanos(t);
        // Windows are sorted and disjoint: the candidate is the last one starting at or before t.
        let i = self.windows.partition_point(|(from, _)| *from <= t);
        (i > 0 && t < self.windows[i - 1].1).then(|| i - 1)
    }
}
