//! Measuring what an impairment does: push a packet train through it and count.

use serde::Serialize;

pub use crate::train::{PathStats, Train};

use crate::expectation::expect;
use crate::impairment::{Direction, DropCause, Impairment, Outcome, PacketMeta};
use crate::profile::DirectionSpec;

/// Counters from a measured train, beyond the summary statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counters {
    pub sent: u64,
    pub delivered: u64,
    pub lost_loss_model: u64,
    pub lost_blackout: u64,
    pub lost_queue_overflow: u64,
    pub loss_bursts: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub corrupted: u64,
}

/// Measured statistics plus counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    #[serde(flatten)]
    pub stats: PathStats,
    pub counters: Counters,
    /// Standard error of the measured p50/p95/p99 delays (ms), by batch means over 50
    /// consecutive batches, so jitter correlation and FIFO clamping are accounted for.
    pub delay_ms_stderr: [f64; 3],
}

/// Pushes `train` through `imp` and measures the result.
pub fn measure(imp: &mut Impairment, train: Train) -> Measured {
    let mut c = Counters::default();
    let mut delays_ns: Vec<u64> = Vec::with_capacity(train.packets as usize);
    let mut arrivals: Vec<(u64, u64)> = Vec::with_capacity(train.packets as usize);
    let mut prev_lost = false;
    for i in 0..train.packets {
        let now = train.send_time(i);
        c.sent += 1;
        let outcome = imp.on_packet(now, PacketMeta { size: train.size });
        let lost = matches!(outcome, Outcome::Dropped(_));
        if lost && !prev_lost {
            c.loss_bursts += 1;
        }
        prev_lost = lost;
        match outcome {
            Outcome::Dropped(DropCause::Loss) => c.lost_loss_model += 1,
            Outcome::Dropped(DropCause::Blackout) => c.lost_blackout += 1,
            Outcome::Dropped(DropCause::QueueOverflow) => c.lost_queue_overflow += 1,
            Outcome::Delivered { first, duplicate } => {
                c.delivered += 1;
                delays_ns.push((first.at - now).as_nanos() as u64);
                arrivals.push((first.at.as_nanos(), i));
                c.duplicates += duplicate.is_some() as u64;
                c.corrupted += outcome.deliveries().filter(|d| d.corruption.is_some()).count() as u64;
            }
        }
    }
    // Arrival order; equal times keep send order, as a FIFO would.
    arrivals.sort_unstable();
    let mut max_seq = None;
    for &(_, seq) in &arrivals {
        match max_seq {
            Some(m) if seq < m => c.reordered += 1,
            _ => max_seq = Some(seq),
        }
    }
    let delay_ms_stderr = batch_stderr(&delays_ns);
    delays_ns.sort_unstable();
    let pct = |p: f64| percentile_ms(&delays_ns, p);
    let lost = c.sent - c.delivered;
    let stats = PathStats {
        loss_rate: ratio(lost, c.sent),
        mean_burst: (c.loss_bursts > 0).then(|| lost as f64 / c.loss_bursts as f64),
        delay_ms_p50: pct(PERCENTILES[0]),
        delay_ms_p95: pct(PERCENTILES[1]),
        delay_ms_p99: pct(PERCENTILES[2]),
        reorder_rate: ratio(c.reordered, c.delivered),
        duplicate_rate: ratio(c.duplicates, c.delivered),
    };
    Measured { stats, counters: c, delay_ms_stderr }
}

const PERCENTILES: [f64; 3] = [0.50, 0.95, 0.99];

/// Standard error of each percentile estimate from the spread of 50 batch estimates.
fn batch_stderr(delays_ns: &[u64]) -> [f64; 3] {
    const BATCHES: usize = 50;
    let len = delays_ns.len() / BATCHES;
    if len < 100 {
        return [0.0; 3];
    }
    let per_batch: Vec<[f64; 3]> = delays_ns
        .chunks_exact(len)
        .map(|chunk| {
            let mut b = chunk.to_vec();
            b.sort_unstable();
            PERCENTILES.map(|p| percentile_ms(&b, p).unwrap_or(0.0))
        })
        .collect();
    let k = per_batch.len() as f64;
    std::array::from_fn(|j| {
        let mean = per_batch.iter().map(|b| b[j]).sum::<f64>() / k;
        let var = per_batch.iter().map(|b| (b[j] - mean).powi(2)).sum::<f64>() / (k - 1.0);
        (var / k).sqrt()
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Nearest-rank percentile of sorted nanosecond values, in milliseconds.
fn percentile_ms(sorted_ns: &[u64], p: f64) -> Option<f64> {
    if sorted_ns.is_empty() {
        return None;
    }
    let rank = (p * sorted_ns.len() as f64).ceil().max(1.0) as usize;
    Some(sorted_ns[rank.min(sorted_ns.len()) - 1] as f64 / 1e6)
}

/// Measured against expected for one direction of a profile: what `profiles sample` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub direction: Direction,
    pub seed: u64,
    pub train: Train,
    pub configured: PathStats,
    pub measured: PathStats,
    pub counters: Counters,
    pub delay_ms_stderr: [f64; 3],
}

/// Samples one direction of a profile with a seed and computes its analytic expectation.
pub fn compare(spec: &DirectionSpec, direction: Direction, seed: u64, train: Train) -> Comparison {
    let m = measure(&mut Impairment::new(spec, seed, direction), train);
    Comparison {
        direction,
        seed,
        train,
        configured: expect(spec, train),
        measured: m.stats,
        counters: m.counters,
        delay_ms_stderr: m.delay_ms_stderr,
    }
}

/// Agreement bounds between measured and configured statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Absolute bound on loss, reorder and duplicate rates (fractions).
    pub rate: f64,
    /// Relative bound on the mean burst length.
    pub burst_rel: f64,
    /// Absolute bound on delay percentiles (ms); widened to 4 standard errors where the
    /// measurement itself is noisier than that.
    pub delay_ms: f64,
}

impl Default for Bounds {
    /// Loss within 0.5 percentage points, burst length within 5 %, delay within 0.5 ms.
    fn default() -> Self {
        Bounds { rate: 0.005, burst_rel: 0.05, delay_ms: 0.5 }
    }
}

impl Comparison {
    /// Every statistic where measured and configured disagree beyond `bounds`, described.
    /// Statistics with no analytic value (`None` configured) are not judged.
    pub fn disagreements(&self, bounds: Bounds) -> Vec<String> {
        let (c, m) = (&self.configured, &self.measured);
        let mut out = Vec::new();
        let mut rate = |name: &str, want: f64, got: f64| {
            if (want - got).abs() > bounds.rate {
                out.push(format!("{name}: configured {want:.5}, measured {got:.5} (bound ±{})", bounds.rate));
            }
        };
        rate("loss_rate", c.loss_rate, m.loss_rate);
        rate("reorder_rate", c.reorder_rate, m.reorder_rate);
        rate("duplicate_rate", c.duplicate_rate, m.duplicate_rate);
        if let (Some(want), Some(got)) = (c.mean_burst, m.mean_burst)
            && (want - got).abs() > bounds.burst_rel * want
        {
            out.push(format!(
                "mean_burst: configured {want:.4}, measured {got:.4} (bound ±{} %)",
                bounds.burst_rel * 100.0
            ));
        }
        let delays = [
            ("delay_ms_p50", c.delay_ms_p50, m.delay_ms_p50),
            ("delay_ms_p95", c.delay_ms_p95, m.delay_ms_p95),
            ("delay_ms_p99", c.delay_ms_p99, m.delay_ms_p99),
        ];
        for ((name, want, got), se) in delays.into_iter().zip(self.delay_ms_stderr) {
            let bound = bounds.delay_ms.max(4.0 * se);
            match (want, got) {
                (Some(w), Some(g)) if (w - g).abs() > bound => {
                    out.push(format!("{name}: configured {w:.3}, measured {g:.3} (bound ±{bound:.3} ms)"));
                }
                (Some(_), None) => out.push(format!("{name}: configured a delay but nothing was delivered")),
                _ => {}
            }
        }
        out
    }
}
