//! Time-stretching of decoded audio by one pitch period, as NetEq's Accelerate and
//! PreemptiveExpand do: remove or repeat one period with a cross-fade, so the buffer level moves
//! without an audible gap or click.

/// Shortest and longest pitch period searched, in samples at 48 kHz (2.5 ms to 10 ms).
const MIN_PERIOD: usize = 120;
const MAX_PERIOD: usize = 480;
/// Search on every 4th sample: pitch resolution of 83 µs is plenty for a cross-fade.
const DECIMATE: usize = 4;

/// The period (in samples) with the highest normalised correlation between `x[..p]` and
/// `x[p..2p]`, searched within what `x` can hold; `None` if `x` is too short.
fn best_period(x: &[i16]) -> Option<usize> {
    let max_p = MAX_PERIOD.min(x.len() / 2);
    if max_p < MIN_PERIOD {
        return None;
    }
    let mut best = (f64::NEG_INFINITY, MIN_PERIOD);
    for p in (MIN_PERIOD..=max_p).step_by(DECIMATE) {
        let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
        for i in (0..p).step_by(DECIMATE) {
            let (a, b) = (x[i] as f64, x[i + p] as f64);
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        let c = if xx > 0.0 && yy > 0.0 { xy / (xx * yy).sqrt() } else { 0.0 };
        if c > best.0 {
            best = (c, p);
        }
    }
    Some(best.1)
}

/// Linear cross-fade from `from` to `to` (equal lengths).
fn crossfade(from: &[i16], to: &[i16]) -> impl Iterator<Item = i16> {
    let n = from.len() as f64;
    from.iter().zip(to).enumerate().map(move |(i, (&a, &b))| {
        let w = (i as f64 + 0.5) / n;
        ((1.0 - w) * a as f64 + w * b as f64).round() as i16
    })
}

/// Removes one pitch period from the start of `x`; returns how many samples were removed
/// (0 when `x` is too short to hold two periods).
pub fn accelerate(x: &mut Vec<i16>) -> usize {
    let Some(p) = best_period(x) else { return 0 };
    let mixed: Vec<i16> = crossfade(&x[..p], &x[p..2 * p]).collect();
    x.splice(..2 * p, mixed);
    p
}

/// Inserts one pitch period near the start of `x`; returns how many samples were added.
pub fn preemptive_expand(x: &mut Vec<i16>) -> usize {
    let Some(p) = best_period(x) else { return 0 };
    // Continue x[p..2p] and fade into a repeat of x[..p], after which x[p..] follows seamlessly.
    let mixed: Vec<i16> = crossfade(&x[p..2 * p], &x[..p]).collect();
    x.splice(p..p, mixed);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, period: f64) -> Vec<i16> {
        (0..n).map(|i| (8000.0 * (2.0 * std::f64::consts::PI * i as f64 / period).sin()) as i16).collect()
    }

    #[test]
    fn finds_the_pitch_period() {
        assert_eq!(best_period(&tone(960, 240.0)), Some(240));
    }

    #[test]
    fn accelerate_removes_one_period_smoothly() {
        let mut x = tone(960, 240.0);
        let removed = accelerate(&mut x);
        assert_eq!((removed, x.len()), (240, 720));
        // A periodic signal stays the same signal: no discontinuity at the joins.
        let max_step = x.windows(2).map(|w| (w[1] as i32 - w[0] as i32).abs()).max().unwrap();
        assert!(max_step < 300, "click of {max_step}");
    }

    #[test]
    fn preemptive_expand_adds_one_period_smoothly() {
        let mut x = tone(960, 240.0);
        let added = preemptive_expand(&mut x);
        assert_eq!((added, x.len()), (240, 1200));
        let max_step = x.windows(2).map(|w| (w[1] as i32 - w[0] as i32).abs()).max().unwrap();
        assert!(max_step < 300, "click of {max_step}");
    }

    #[test]
    fn short_frames_are_left_alone() {
        let mut x = tone(200, 50.0);
        assert_eq!(accelerate(&mut x), 0);
        assert_eq!(x.len(), 200);
    }
}
