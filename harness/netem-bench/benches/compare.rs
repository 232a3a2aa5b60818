//! Packets per second through Jitterbug's impairment core and through str0m-netem, side by side
//! in one run, on profiles that both can express with the same meaning (see README.md).
//!
//! Each iteration, for either engine: a fresh, seeded emulator; 100 000 packets of 100 bytes at
//! 20 ms spacing of virtual time; every delivered copy drained and counted. Jitterbug answers
//! each packet with its delivery times directly; str0m-netem queues packets and hands them out
//! through `poll_output`, so its driver runs the timer loop an event loop would (feed
//! `Input::Timeout` at each requested instant before the next packet arrives, then drain).
//!
//! Before measuring, the same drivers run once with delay bookkeeping and the two engines'
//! loss rates and delay distributions are checked against each other, so the bench cannot
//! silently compare different work.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jitterbug_core::impairment::{Direction, Impairment, PacketMeta};
use jitterbug_core::profile::{DirectionSpec, Profile};
use jitterbug_core::time::Timestamp;
use str0m_netem::{Input, Netem, NetemConfig, Output, Probability, RandomLoss, WithLen};

/// Packets per iteration.
const PACKETS: u64 = 100_000;
/// Send spacing in virtual time: one 20 ms voice frame per packet.
const SPACING: Duration = Duration::from_millis(20);
/// On-the-wire packet size in bytes.
const SIZE: u32 = 100;
const SEED: u64 = 1;

/// One profile, written once for each engine.
struct Case {
    name: &'static str,
    /// A Jitterbug profile (its `both` table is used; the bench drives the uplink).
    jitterbug_toml: &'static str,
    str0m: fn() -> NetemConfig,
    /// The configured loss fraction, for the equivalence check.
    loss: f64,
}

const CASES: &[Case] = &[
    Case {
        name: "delay50-uniform15-loss2",
        jitterbug_toml: r#"
description = "50 ms one-way delay, uniform jitter +/-15 ms, 2 % random loss, no rate limit."
source = "Bench profile chosen so that str0m-netem can express the same thing."

[both.delay]
ms = 50
jitter_ms = 15
distribution = "uniform"

[both.loss]
model = "random"
percent = 2
"#,
        str0m: || {
            NetemConfig::new()
                .latency(Duration::from_millis(50))
                .jitter(Duration::from_millis(15))
                .loss(RandomLoss::new(Probability::new(0.02)))
                .seed(SEED)
        },
        loss: 0.02,
    },
    Case {
        name: "loss5",
        jitterbug_toml: r#"
description = "5 % random loss, no delay, no rate limit."
source = "Bench profile chosen so that str0m-netem can express the same thing."

[both.loss]
model = "random"
percent = 5
"#,
        str0m: || NetemConfig::new().loss(RandomLoss::new(Probability::new(0.05))).seed(SEED),
        loss: 0.05,
    },
];

/// str0m-netem's payload: it only asks for a length (rate limiting), and clones every packet
/// it enqueues, so a `Copy` token keeps the payload from costing an allocation per packet,
/// the same as Jitterbug's `PacketMeta { size }`. The sequence number serves the check.
#[derive(Debug, Clone, Copy)]
struct Pkt {
    seq: u32,
}

impl WithLen for Pkt {
    fn len(&self) -> usize {
        SIZE as usize
    }
}

fn send_time(i: u64) -> Duration {
    SPACING * i as u32
}

fn jitterbug_spec(case: &Case) -> DirectionSpec {
    let file = format!("{}.toml", case.name);
    Profile::parse(case.name, case.jitterbug_toml, Path::new(&file), None)
        .unwrap_or_else(|e| panic!("bench profile {}: {e}", case.name))
        .uplink
}

/// Drives Jitterbug's core; `on_delivery(since_start, seq)` sees every delivered copy.
#[inline(always)]
fn run_jitterbug(spec: &DirectionSpec, mut on_delivery: impl FnMut(Duration, u32)) {
    let mut imp = Impairment::new(spec, SEED, Direction::Uplink);
    for i in 0..PACKETS {
        let out = imp.on_packet(Timestamp::from_nanos(send_time(i).as_nanos() as u64), PacketMeta { size: SIZE });
        for d in out.deliveries() {
            on_delivery(d.at.saturating_since(Timestamp::ZERO), i as u32);
        }
    }
}

/// Drives str0m-netem in virtual time from `t0`, as an event loop would: before each packet
/// arrives, fire the pending timer if it is due, then drain; after the last packet, keep firing
/// timers until the emulator is empty. `on_delivery(since_start, seq)` sees every delivered copy.
#[inline(always)]
fn run_str0m(config: NetemConfig, t0: Instant, mut on_delivery: impl FnMut(Duration, u32)) -> Netem<Pkt> {
    let mut netem: Netem<Pkt> = Netem::new(config);
    // str0m-netem reports a timeout once (until the queue changes or a timeout is fed), so the
    // driver must remember it.
    let mut timer: Option<Instant> = None;
    for i in 0..PACKETS {
        let now = t0 + send_time(i);
        while let Some(at) = timer.filter(|&at| at <= now) {
            timer = None;
            netem.handle_input(Input::Timeout(at));
            drain(&mut netem, at - t0, &mut timer, &mut on_delivery);
        }
        netem.handle_input(Input::Packet(now, Pkt { seq: i as u32 }));
        drain(&mut netem, now - t0, &mut timer, &mut on_delivery);
    }
    while let Some(at) = timer.take() {
        netem.handle_input(Input::Timeout(at));
        drain(&mut netem, at - t0, &mut timer, &mut on_delivery);
    }
    netem
}

/// Pulls every packet that is due; a delivered packet leaves at the emulator's current time.
#[inline(always)]
fn drain(
    netem: &mut Netem<Pkt>,
    now: Duration,
    timer: &mut Option<Instant>,
    on_delivery: &mut impl FnMut(Duration, u32),
) {
    while let Some(out) = netem.poll_output() {
        match out {
            Output::Packet(p) => on_delivery(now, p.seq),
            Output::Timeout(at) => *timer = Some(at),
        }
    }
}

/// What one run of an engine delivered.
struct Summary {
    delivered: u64,
    /// One-way delays in ms, in delivery order.
    delays_ms: Vec<f64>,
    in_order: bool,
}

impl Summary {
    fn recorder() -> (Summary, impl FnMut(&mut Summary, Duration, u32)) {
        let mut last_seq: Option<u32> = None;
        let s = Summary { delivered: 0, delays_ms: Vec::with_capacity(PACKETS as usize), in_order: true };
        let rec = move |s: &mut Summary, at: Duration, seq: u32| {
            s.delivered += 1;
            s.delays_ms.push((at - send_time(seq as u64)).as_secs_f64() * 1e3);
            s.in_order &= last_seq.is_none_or(|l| seq > l);
            last_seq = Some(seq);
        };
        (s, rec)
    }

    fn mean(&self) -> f64 {
        self.delays_ms.iter().sum::<f64>() / self.delays_ms.len() as f64
    }

    fn percentile(&self, q: f64) -> f64 {
        let mut v = self.delays_ms.clone();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    }

    fn line(&self) -> String {
        format!(
            "delivered {:>6} (loss {:.3} %), delay ms: min {:.2} p50 {:.2} mean {:.2} p99 {:.2} max {:.2}, in order: {}",
            self.delivered,
            100.0 * (1.0 - self.delivered as f64 / PACKETS as f64),
            self.percentile(0.0),
            self.percentile(0.5),
            self.mean(),
            self.percentile(0.99),
            self.percentile(1.0),
            self.in_order,
        )
    }
}

/// Runs both engines once per case and checks that they do the same thing: the configured
/// loss rate, the same delay distribution (FIFO-clamped on both), in-order delivery.
fn check_equivalence() {
    for case in CASES {
        let spec = jitterbug_spec(case);
        let (mut jb, mut rec) = Summary::recorder();
        run_jitterbug(&spec, |at, seq| rec(&mut jb, at, seq));
        let (mut st, mut rec) = Summary::recorder();
        let left = run_str0m((case.str0m)(), Instant::now(), |at, seq| rec(&mut st, at, seq));
        assert!(left.is_empty(), "{}: str0m-netem still holds packets after the drain", case.name);

        eprintln!("{} (one seeded run of {PACKETS} packets)", case.name);
        eprintln!("  jitterbug   {}", jb.line());
        eprintln!("  str0m-netem {}", st.line());

        // 5 binomial standard deviations of the loss fraction.
        let tol = 5.0 * (case.loss * (1.0 - case.loss) / PACKETS as f64).sqrt();
        for (engine, s) in [("jitterbug", &jb), ("str0m-netem", &st)] {
            let loss = 1.0 - s.delivered as f64 / PACKETS as f64;
            assert!((loss - case.loss).abs() < tol, "{}: {engine} lost {loss}, configured {}", case.name, case.loss);
            assert!(s.in_order, "{}: {engine} reordered", case.name);
        }
        for q in [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0] {
            let (a, b) = (jb.percentile(q), st.percentile(q));
            assert!(
                (a - b).abs() < 0.5,
                "{}: delay p{} differs: jitterbug {a} ms, str0m-netem {b} ms",
                case.name,
                q * 100.0
            );
        }
        assert!((jb.mean() - st.mean()).abs() < 0.2, "{}: mean delays differ", case.name);
    }
}

fn bench(c: &mut Criterion) {
    check_equivalence();

    let mut g = c.benchmark_group("netem-compare");
    g.throughput(Throughput::Elements(PACKETS));
    for case in CASES {
        let spec = jitterbug_spec(case);
        g.bench_function(BenchmarkId::new("jitterbug", case.name), |b| {
            b.iter(|| {
                let mut delivered = 0u64;
                run_jitterbug(black_box(&spec), |_, _| delivered += 1);
                black_box(delivered)
            })
        });

        let config = (case.str0m)();
        let t0 = Instant::now();
        g.bench_function(BenchmarkId::new("str0m-netem", case.name), |b| {
            b.iter(|| {
                let mut delivered = 0u64;
                drop(run_str0m(black_box(config), t0, |_, _| delivered += 1));
                black_box(delivered)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
