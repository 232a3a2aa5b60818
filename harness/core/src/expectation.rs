//! What a profile *should* do to a packet train, computed analytically from its parameters.
//!
//! `jitterbug profiles sample` prints this beside the measured statistics, and the tests hold
//! the impairment core to it. Nothing here draws random numbers:
//! - loss: each loss model is written as a hidden Markov chain (transition matrix, loss
//!   probability per state) and propagated packet by packet through the schedule; the expected
//!   number of losses and of burst starts give the loss rate and the mean burst length;
//! - delay: the law of each packet's delay (queue sojourn + jitter, or reorder's skip) is mixed
//!   over the train; without reordering the FIFO clamp E_i = max(D_i, E_prev − gap·T) is
//!   solved on a grid with the recursion G(y) = F(y)·K(y),
//!   K(y) = Σ_g P(gap = g)·[ρ·K(y + gT) + (1 − ρ)·G(y + gT)], where ρ is the jitter correlation
//!   of the repeat-last-value chain (exact for independent losses);
//! - the rate queue is deterministic and is evaluated with [`RateQueue`] itself on the
//!   expected arrival process;
//! - reordering: a delayed packet is late when a later one, sent k packets after it, skips the
//!   delay or is jittered past it before it arrives; netem's gap counter is walked as a Markov
//!   chain (reorder correlation is not modelled).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::distribution::DelayDistribution;
use crate::loss_model::{four_state_params, gilbert_params};
use crate::profile::{Delay, DirectionSpec, Loss, Rate, Reorder};
use crate::rate_queue::RateQueue;
use crate::reorder::ReorderGate;
use crate::schedule::Schedule;
use crate::time::Timestamp;
use crate::train::{PathStats, Train};

/// A loss model as a hidden Markov chain: packet i is lost with `emit[s_i]`, then s moves by `a`.
#[derive(Debug, Clone)]
struct Chain {
    init: Vec<f64>,
    a: Vec<Vec<f64>>,
    emit: Vec<f64>,
}

#[derive(Debug, Clone)]
enum LossLaw {
    Chain(Chain),
    Trace(Vec<bool>),
}

fn loss_law(loss: &Loss) -> Option<LossLaw> {
    let chain = match loss {
        Loss::Random { percent, correlation_percent } => {
            let (p, rho) = (percent.fraction(), correlation_percent.fraction());
            if p == 0.0 {
                return None;
            }
            // State = this packet's fate; the next repeats it with ρ or is drawn afresh.
            let to_lost = |lost: bool| rho * f64::from(u8::from(lost)) + (1.0 - rho) * p;
            Chain {
                init: vec![1.0 - p, p],
                a: vec![vec![1.0 - to_lost(false), to_lost(false)], vec![1.0 - to_lost(true), to_lost(true)]],
                emit: vec![0.0, 1.0],
            }
        }
        Loss::Gemodel { .. } => {
            let (p, r, h1, k1) = gilbert_params(loss)?;
            Chain { init: vec![1.0, 0.0], a: vec![vec![1.0 - p, p], vec![r, 1.0 - r]], emit: vec![k1, h1] }
        }
        Loss::State { .. } => {
            let [p13, p31, p32, p23, p14] = four_state_params(loss)?;
            // States 1..4 after each packet's transition; 3 and 4 are lost.
            let a = vec![
                vec![1.0 - p13 - p14, 0.0, p13, p14],
                vec![0.0, 1.0 - p23, p23, 0.0],
                vec![p31, p32, 1.0 - p31 - p32, 0.0],
                vec![1.0, 0.0, 0.0, 0.0],
            ];
            Chain { init: a[0].clone(), a, emit: vec![0.0, 0.0, 1.0, 1.0] }
        }
        Loss::Trace { drops, .. } => return Some(LossLaw::Trace(drops.clone())),
        Loss::Blackout => Chain { init: vec![1.0], a: vec![vec![1.0]], emit: vec![1.0] },
    };
    Some(LossLaw::Chain(chain))
}

/// Forward state of one loss law.
#[derive(Debug, Clone)]
struct LossTrack {
    law: LossLaw,
    pi: Vec<f64>,
    pos: usize,
}

impl LossTrack {
    fn new(law: LossLaw) -> Self {
        let pi = match &law {
            LossLaw::Chain(c) => c.init.clone(),
            LossLaw::Trace(_) => Vec::new(),
        };
        LossTrack { law, pi, pos: 0 }
    }

    /// Advances one packet: returns P(lost) and P(this one delivered ∧ this law's next one lost).
    fn step(&mut self) -> (f64, f64) {
        match &self.law {
            LossLaw::Trace(d) => {
                let now = f64::from(u8::from(d[self.pos]));
                self.pos = (self.pos + 1) % d.len();
                (now, (1.0 - now) * f64::from(u8::from(d[self.pos])))
            }
            LossLaw::Chain(c) => {
                let n = c.emit.len();
                let mut lost = 0.0;
                let mut kept_then_lost = 0.0;
                let mut next = vec![0.0; n];
                for s in 0..n {
                    lost += self.pi[s] * c.emit[s];
                    let ae: f64 = (0..n).map(|t| c.a[s][t] * c.emit[t]).sum();
                    kept_then_lost += self.pi[s] * (1.0 - c.emit[s]) * ae;
                    for (nt, a) in next.iter_mut().zip(&c.a[s]) {
                        *nt += self.pi[s] * a;
                    }
                }
                self.pi = next;
                (lost, kept_then_lost)
            }
        }
    }
}

/// Which configured component governs a packet: the base (0) or schedule segment i (i + 1).
type Source = usize;

/// Delay law class of a packet: which delay model and which rate limit apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Class {
    delay: Source,
    rate: Option<Source>,
}

/// Queue behaviour of one rate configuration under the expected arrivals.
#[derive(Debug, Clone)]
struct QueueLaw {
    drop_fraction: f64,
    mean_drop_burst: Option<f64>,
    /// Sojourn atoms (ms, weight).
    sojourn: Vec<(f64, f64)>,
}

fn queue_law(rate: &Rate, spacing: Duration, size: u32) -> QueueLaw {
    let mut q = RateQueue::default();
    let (warm, window) = (20_000u64, 20_000u64);
    let mut atoms: BTreeMap<u64, f64> = BTreeMap::new();
    let (mut dropped, mut runs, mut prev_dropped) = (0u64, 0u64, false);
    for i in 0..warm + window {
        let now = Timestamp::from_nanos(i * spacing.as_nanos() as u64);
        let out = q.offer(rate, now, size);
        if i < warm {
            continue;
        }
        match out {
            Some(d) => *atoms.entry(d.as_micros() as u64).or_default() += 1.0,
            None => {
                dropped += 1;
                runs += u64::from(!prev_dropped);
            }
        }
        prev_dropped = out.is_none();
    }
    QueueLaw {
        drop_fraction: dropped as f64 / window as f64,
        mean_drop_burst: (runs > 0).then(|| dropped as f64 / runs as f64),
        sojourn: atoms.into_iter().map(|(us, w)| (us as f64 / 1e3, w)).collect(),
    }
}

/// The delay law of one class: sojourn atoms, each followed by jitter or by reorder's skip.
#[derive(Debug, Clone)]
struct DelayLaw {
    sojourn: Vec<(f64, f64)>,
    jitter: Option<DelayDistribution>,
    skip: f64,
    rho: f64,
}

impl DelayLaw {
    /// P(delay <= y).
    fn cdf(&self, y: f64) -> f64 {
        let total: f64 = self.sojourn.iter().map(|a| a.1).sum();
        let mut acc = 0.0;
        for &(s, w) in &self.sojourn {
            let skipped = if y >= s { 1.0 } else { 0.0 };
            let delayed = match &self.jitter {
                Some(j) => j.cdf(y - s),
                None => skipped,
            };
            acc += w * (self.skip * skipped + (1.0 - self.skip) * delayed);
        }
        acc / total
    }

    /// CDF of the delay of packets that were not skipped, without sojourn (for reordering).
    fn delayed_cdf(&self, y: f64) -> f64 {
        match &self.jitter {
            Some(j) => j.cdf(y),
            None => f64::from(u8::from(y >= 0.0)),
        }
    }

    fn upper_ms(&self) -> f64 {
        let s = self.sojourn.iter().map(|a| a.0).fold(0.0, f64::max);
        s + self.jitter.map_or(0.0, |j| j.upper_bound_ms())
    }

    fn varies(&self) -> bool {
        self.jitter.is_some_and(|j| !j.is_fixed())
    }
}

/// The analytic expectation of a direction's statistics for a train.
pub fn expect(spec: &DirectionSpec, train: Train) -> PathStats {
    let schedule = Schedule::new(spec);
    let n = train.packets as usize;

    // Loss laws: base and per segment; a segment without its own loss uses the base law.
    let mut tracks: Vec<Option<LossTrack>> = std::iter::once(loss_law(&spec.base.loss))
        .chain(spec.schedule.iter().map(|s| s.loss.as_ref().and_then(loss_law)))
        .map(|l| l.map(LossTrack::new))
        .collect();
    let loss_source = |seg: Option<usize>| match seg {
        Some(i) if spec.schedule[i].loss.is_some() => i + 1,
        _ => 0,
    };
    let delay_of = |s: Source| -> Delay {
        if s == 0 { spec.base.delay } else { spec.schedule[s - 1].delay.unwrap_or(spec.base.delay) }
    };
    let rate_of = |s: Source| -> Option<Rate> { if s == 0 { spec.base.rate } else { spec.schedule[s - 1].rate } };

    // Pass 1: model loss per packet, and which delay/rate class each packet belongs to.
    let mut model_loss = Vec::with_capacity(n);
    let mut classes = Vec::with_capacity(n);
    let mut burst_starts = 0.0;
    let mut prev: Option<(Source, f64, f64)> = None; // (source, p_lost, kept_then_lost)
    for i in 0..n {
        let seg = schedule.active(train.send_time(i as u64));
        let src = loss_source(seg);
        let (p, q) = tracks[src].as_mut().map_or((0.0, 0.0), LossTrack::step);
        burst_starts += match prev {
            None => p,
            Some((ps, _, pq)) if ps == src => pq,
            Some((_, pp, _)) => (1.0 - pp) * p,
        };
        prev = Some((src, p, q));
        model_loss.push(p);
        let delay = match seg {
            Some(s) if spec.schedule[s].delay.is_some() => s + 1,
            _ => 0,
        };
        let rate = match seg {
            Some(s) if spec.schedule[s].rate.is_some() => Some(s + 1),
            _ => spec.base.rate.map(|_| 0),
        };
        classes.push(Class { delay, rate });
    }
    let mean_model_loss = model_loss.iter().sum::<f64>() / n.max(1) as f64;

    // Rate queues see the packets the loss model let through.
    let thinned = train.spacing.mul_f64(1.0 / (1.0 - mean_model_loss).max(1e-9));
    let mut queues: BTreeMap<Source, QueueLaw> = BTreeMap::new();
    for c in &classes {
        if let Some(r) = c.rate {
            queues.entry(r).or_insert_with(|| queue_law(&rate_of(r).expect("rate source"), thinned, train.size));
        }
    }
    let total_loss: Vec<f64> = model_loss
        .iter()
        .zip(&classes)
        .map(|(&p, c)| {
            let f = c.rate.map_or(0.0, |r| queues[&r].drop_fraction);
            p + (1.0 - p) * f
        })
        .collect();
    let lost: f64 = total_loss.iter().sum();
    let queue_drops = queues.values().any(|q| q.drop_fraction > 0.0);
    let mean_burst = match (queue_drops, mean_model_loss > 0.0) {
        (false, _) => (burst_starts > 0.0).then(|| model_loss.iter().sum::<f64>() / burst_starts),
        (true, false) => queues.values().filter_map(|q| q.mean_drop_burst).reduce(f64::max),
        // Queue drops interleaved with a random loss process: no closed form offered.
        (true, true) => None,
    };

    // Delay laws per class.
    let reorder = spec.base.reorder.filter(|r| r.percent.value() > 0.0);
    let skip = reorder.as_ref().map_or(0.0, ReorderGate::expected_rate);
    let mut laws: BTreeMap<Class, DelayLaw> = BTreeMap::new();
    let mut weights: BTreeMap<Class, f64> = BTreeMap::new();
    for (c, l) in classes.iter().zip(&total_loss) {
        *weights.entry(*c).or_default() += 1.0 - l;
        laws.entry(*c).or_insert_with(|| {
            let d = delay_of(c.delay);
            DelayLaw {
                sojourn: c.rate.map_or_else(|| vec![(0.0, 1.0)], |r| queues[&r].sojourn.clone()),
                jitter: (!d.is_zero()).then(|| DelayDistribution::from(&d)),
                skip,
                rho: d.correlation_percent.fraction(),
            }
        });
    }
    let delivered: f64 = weights.values().sum();
    let delays_decrease = spec.schedule.iter().any(|s| s.delay.is_some());
    let clamp = reorder.is_none() && (laws.values().any(DelayLaw::varies) || delays_decrease);
    let percentiles = if delivered < 0.5 {
        [None; 3]
    } else if clamp {
        let grid = ClampGrid::solve(&laws, &classes, &total_loss, &schedule_shape(spec, train), train);
        [0.5, 0.95, 0.99].map(|p| Some(grid.percentile(p)))
    } else {
        let upper = laws.values().map(DelayLaw::upper_ms).fold(0.0, f64::max);
        let cdf = |y: f64| laws.iter().map(|(c, l)| weights[c] * l.cdf(y)).sum::<f64>() / delivered;
        [0.5, 0.95, 0.99].map(|p| Some(quantile(&cdf, p, upper)))
    };

    let reorder_rate = match &reorder {
        None => 0.0,
        Some(r) => {
            let loss = lost / n.max(1) as f64;
            laws.iter().map(|(c, l)| weights[c] * reorder_probability(l, r, loss, train.spacing)).sum::<f64>()
                / delivered
        }
    };

    PathStats {
        loss_rate: lost / n.max(1) as f64,
        mean_burst,
        delay_ms_p50: percentiles[0],
        delay_ms_p95: percentiles[1],
        delay_ms_p99: percentiles[2],
        reorder_rate,
        duplicate_rate: spec.base.duplicate_percent.fraction(),
    }
}

/// Smallest y with cdf(y) >= p, by bisection (cdf is non-decreasing on [0, upper]).
fn quantile(cdf: &dyn Fn(f64) -> f64, p: f64, upper: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, upper.max(1e-6) * 2.0 + 1.0);
    if cdf(lo) >= p {
        return 0.0;
    }
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) >= p { hi = mid } else { lo = mid }
    }
    hi
}

/// Probability that a delivered packet of this law arrives after a later-sent one.
///
/// netem's gate is a Markov chain over its counter (gap − 1 forced normal packets, then an
/// eligible state that skips with probability p), so the packets after a delayed one are
/// walked state by state: each later packet is lost, or skips the delay (overtaking when it
/// is sent before our packet lands), or is delayed and overtakes when its jitter lets it.
fn reorder_probability(law: &DelayLaw, reorder: &Reorder, loss: f64, spacing: Duration) -> f64 {
    let t = spacing.as_secs_f64() * 1e3;
    let gap = reorder.gap.max(1) as usize;
    let p = reorder.percent.fraction();
    let eligible = gap - 1;
    // Counter state after a delayed packet: forced states 1..gap-1 once per cycle, the
    // eligible state once more for every eligible packet that was not picked (1 / p − 1).
    let mut start = vec![0.0; gap];
    start[1..eligible.max(1)].fill(1.0);
    start[eligible] += (1.0 - p) / p;
    if eligible > 0 {
        start[eligible] += 1.0;
    }
    let norm: f64 = start.iter().sum();
    start.iter_mut().for_each(|v| *v /= norm);

    let survive = |d: f64| {
        let mut v = start.clone();
        let mut k = 1.0;
        while k * t < d {
            let overtakes_if_delayed = law.delayed_cdf(d - k * t - 1e-9);
            let mut next = vec![0.0; gap];
            for c in 0..gap {
                next[c] += v[c] * loss;
                let live = v[c] * (1.0 - loss);
                if c < eligible {
                    next[c + 1] += live * (1.0 - overtakes_if_delayed);
                } else {
                    // A skipped packet lands at once: it overtakes ours.
                    next[eligible] += live * (1.0 - p) * (1.0 - overtakes_if_delayed);
                }
            }
            v = next;
            k += 1.0;
        }
        v.iter().sum::<f64>()
    };
    let upper = law.upper_ms();
    let late = match &law.jitter {
        Some(j) if !j.is_fixed() => {
            let steps = 2000;
            let h = upper / steps as f64;
            (0..steps)
                .map(|i| {
                    let (a, b) = (i as f64 * h, (i + 1) as f64 * h);
                    (j.cdf(b) - j.cdf(a)) * (1.0 - survive(0.5 * (a + b)))
                })
                .sum::<f64>()
                + j.cdf(0.0) * (1.0 - survive(0.0))
        }
        Some(j) => 1.0 - survive(j.mean_ms),
        None => 0.0,
    };
    (1.0 - law.skip) * late
}

/// Which packets the FIFO-clamp recursion walks, with the weight each one's law carries.
struct Shape {
    /// Packet indices to walk, in order.
    walk: std::ops::Range<usize>,
    /// Walked packets from this index on are accumulated into the result.
    from: usize,
    /// Weight of the last walked packet's law beyond the walk (steady state), in packets.
    tail_weight: f64,
}

fn schedule_shape(spec: &DirectionSpec, train: Train) -> Shape {
    let n = train.packets as usize;
    let t = train.spacing.as_secs_f64();
    let burn = 400usize;
    match (spec.schedule.last(), spec.period()) {
        (None, _) => Shape { walk: 0..burn.min(n), from: burn.min(n).saturating_sub(1), tail_weight: 0.0 },
        (Some(_), Some(p)) => {
            let per = (p.as_secs_f64() / t).ceil() as usize;
            let end = (burn + 2 * per).min(n);
            Shape { walk: 0..end, from: end.saturating_sub(per), tail_weight: 0.0 }
        }
        (Some(last), None) => {
            let end = ((last.until_s / t).ceil() as usize + burn).min(n);
            Shape { walk: 0..end, from: 0, tail_weight: (n - end) as f64 }
        }
    }
}

/// The FIFO-clamp recursion on a grid of step T/400.
struct ClampGrid {
    h: f64,
    cdf: Vec<f64>,
}

impl ClampGrid {
    fn solve(
        laws: &BTreeMap<Class, DelayLaw>,
        classes: &[Class],
        loss: &[f64],
        shape: &Shape,
        train: Train,
    ) -> ClampGrid {
        const SUB: usize = 400;
        let t = train.spacing.as_secs_f64() * 1e3;
        let h = t / SUB as f64;
        let upper = laws.values().map(DelayLaw::upper_ms).fold(0.0, f64::max) + t;
        let m = (upper / h).ceil() as usize + 1;
        let grids: BTreeMap<Class, Vec<f64>> =
            laws.iter().map(|(c, l)| (*c, (0..m).map(|j| l.cdf(j as f64 * h)).collect())).collect();
        let max_gap = 64usize;
        // History of (G, K) for the last max_gap packets; index 0 = previous packet.
        let mut hist: std::collections::VecDeque<(Vec<f64>, Vec<f64>)> = std::collections::VecDeque::new();
        let mut acc = vec![0.0; m];
        let mut acc_w = 0.0;
        let mut last_g = vec![1.0; m];
        for i in shape.walk.clone() {
            let f = &grids[&classes[i]];
            let rho = laws[&classes[i]].rho;
            // P(previous delivered packet is g back), for g = 1..max_gap.
            let mut gaps = Vec::new();
            let mut all_lost = 1.0;
            for g in 1..=max_gap.min(i) {
                gaps.push(all_lost * (1.0 - loss[i - g]));
                all_lost *= loss[i - g];
                if all_lost < 1e-12 {
                    break;
                }
            }
            let mut g_now = vec![0.0; m];
            let mut k_now = vec![0.0; m];
            for j in 0..m {
                // Beyond the history or the grid, nothing constrains the packet (G = K = 1).
                let mut k = 1.0 - gaps.iter().sum::<f64>();
                for (gi, pg) in gaps.iter().enumerate() {
                    let idx = j + (gi + 1) * SUB;
                    let (gp, kp) = match hist.get(gi) {
                        Some((gv, kv)) if idx < m => (gv[idx], kv[idx]),
                        _ => (1.0, 1.0),
                    };
                    k += pg * (rho * kp + (1.0 - rho) * gp);
                }
                k_now[j] = k;
                g_now[j] = f[j] * k;
            }
            if i >= shape.from {
                let w = 1.0 - loss[i];
                for j in 0..m {
                    acc[j] += w * g_now[j];
                }
                acc_w += w;
            }
            last_g.clone_from(&g_now);
            hist.push_front((g_now, k_now));
            hist.truncate(max_gap);
        }
        if shape.tail_weight > 0.0 {
            let last = shape.walk.end.saturating_sub(1);
            let w = shape.tail_weight * (1.0 - loss[last]);
            for j in 0..m {
                acc[j] += w * last_g[j];
            }
            acc_w += w;
        }
        let cdf = acc.into_iter().map(|v| v / acc_w.max(f64::MIN_POSITIVE)).collect();
        ClampGrid { h, cdf }
    }

    fn percentile(&self, p: f64) -> f64 {
        match self.cdf.iter().position(|&c| c >= p) {
            None => (self.cdf.len() - 1) as f64 * self.h,
            Some(0) => 0.0,
            Some(j) => {
                let (c0, c1) = (self.cdf[j - 1], self.cdf[j]);
                let frac = if c1 > c0 { (p - c0) / (c1 - c0) } else { 1.0 };
                (j as f64 - 1.0 + frac) * self.h
            }
        }
    }
}
