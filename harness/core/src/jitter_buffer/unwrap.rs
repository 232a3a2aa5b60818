//! Extending 16-bit RTP sequence numbers and 32-bit timestamps to 64 bits across wrap-around.

/// Unwraps a wrapping counter of `BITS` bits into a monotonic-ish 64-bit value, choosing for
/// each input the extension closest to the previous value (RFC 3550 appendix A.1 style).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwrapper<const BITS: u32> {
    last: Option<u64>,
}

impl<const BITS: u32> Unwrapper<BITS> {
    const MODULUS: u64 = 1 << BITS;

    /// The extended value of `v`, which may be earlier than previous ones (reordering).
    pub fn unwrap(&mut self, v: u64) -> u64 {
        let v = v & (Self::MODULUS - 1);
        let ext = match self.last {
            None => v + Self::MODULUS, // room below for reordered packets before the first
            Some(last) => {
                let base = last & !(Self::MODULUS - 1);
                let candidates = [base.wrapping_sub(Self::MODULUS).wrapping_add(v), base + v, base + Self::MODULUS + v];
                *candidates
                    .iter()
                    .filter(|&&c| c < u64::MAX / 2)
                    .min_by_key(|&&c| c.abs_diff(last))
                    .expect("a candidate exists")
            }
        };
        self.last = Some(self.last.map_or(ext, |l| l.max(ext)));
        ext
    }

    pub fn reset(&mut self) {
        self.last = None;
    }
}

pub type SeqUnwrapper = Unwrapper<16>;
pub type TimestampUnwrapper = Unwrapper<32>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wraps_forward_and_tolerates_reordering() {
        let mut u = SeqUnwrapper::default();
        let a = u.unwrap(65_534);
        let b = u.unwrap(65_535);
        let c = u.unwrap(1); // 0 lost, wrapped
        let d = u.unwrap(0); // the late one
        assert_eq!((b - a, c - a, d - a), (1, 3, 2));
    }

    #[test]
    fn timestamp_wraps() {
        let mut u = TimestampUnwrapper::default();
        let a = u.unwrap(u32::MAX as u64 - 479);
        let b = u.unwrap(480);
        assert_eq!(b - a, 960);
    }
}
