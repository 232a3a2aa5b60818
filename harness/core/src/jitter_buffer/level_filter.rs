//! The filtered buffer level (libwebrtc `neteq/buffer_level_filter.cc`, `BufferLevelFilter`):
//! an exponential average of the packets' span in Q8 samples, whose smoothing follows the
//! target, lowered at once by what accelerate removed. NetEq no longer decides on it; it is
//! the "current delay" a receiver reports, and what the report plots.

#[derive(Debug, Clone, Copy)]
pub struct LevelFilter {
    /// Q8 samples.
    level: i64,
    /// Q8.
    factor: i64,
}

impl Default for LevelFilter {
    fn default() -> Self {
        LevelFilter { level: 0, factor: 253 }
    }
}

impl LevelFilter {
    /// Smoothing for a target of `target_ms` (`SetTargetBufferLevel`).
    pub fn set_target(&mut self, target_ms: i32) {
        self.factor = match target_ms {
            ..=20 => 251,
            21..=60 => 252,
            61..=140 => 253,
            _ => 254,
        };
    }

    /// One tick's buffer span (`size`, samples) and what time-stretching changed (`stretched`:
    /// removed positive, added negative), both samples (`BufferLevelFilter::Update`).
    pub fn update(&mut self, size: i64, stretched: i64) {
        self.level = ((self.factor * self.level) >> 8) + (256 - self.factor) * size;
        self.level = (self.level - stretched * 256).max(0);
    }

    /// Sets the level directly, samples (after a flush, or when playout jumps a gap).
    pub fn set(&mut self, samples: i64) {
        self.level = samples * 256;
    }

    /// Samples.
    pub fn level(&self) -> i64 {
        (self.level + 128) >> 8
    }

    pub fn reset(&mut self) {
        *self = LevelFilter::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SetTargetBufferLevel`'s factors.
    #[test]
    fn coefficients_follow_the_target() {
        let f = |t| {
            let mut l = LevelFilter::default();
            l.set_target(t);
            l.factor
        };
        assert_eq!([20, 21, 60, 61, 140, 141].map(f), [251, 252, 252, 253, 253, 254]);
    }

    /// `BufferLevelFilter::Update` in Q8.
    #[test]
    fn arithmetic() {
        let mut l = LevelFilter::default();
        l.set_target(80);
        l.update(960, 0);
        assert_eq!((l.level, l.level()), (2880, 11));
        l.update(960, 0);
        assert_eq!((l.level, l.level()), (5726, 22));
        l.set(960);
        l.update(960, 240);
        assert_eq!((l.level, l.level()), (184_320, 720));
        l.update(0, 10_000);
        assert_eq!(l.level(), 0, "floored at zero");
    }
}
