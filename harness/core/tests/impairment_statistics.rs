//! Statistical checks on fixed seeds: 10^6 packets through the impairment core agree with the
//! analytic expectation — loss within 0.5 percentage points, mean burst within 5 %, delay
//! percentiles within 0.5 ms, reorder and duplicate rates within 0.5 points.

mod common;

use jitterbug_core::impairment::Direction;
use jitterbug_core::sample::{Comparison, Train, compare};

const PACKETS: u64 = 1_000_000;

fn check(name: &str, body: &str) -> Comparison {
    let spec = common::uplink(body);
    let c = compare(&spec, Direction::Uplink, 7, Train::voice(PACKETS));
    let (e, m) = (&c.configured, &c.measured);
    let mut bad = Vec::new();
    if (e.loss_rate - m.loss_rate).abs() > 0.005 {
        bad.push(format!("loss {} vs {}", e.loss_rate, m.loss_rate));
    }
    if let (Some(a), Some(b)) = (e.mean_burst, m.mean_burst)
        && (a - b).abs() > 0.05 * a
    {
        bad.push(format!("burst {a} vs {b}"));
    }
    for (k, a, b) in [
        ("p50", e.delay_ms_p50, m.delay_ms_p50),
        ("p95", e.delay_ms_p95, m.delay_ms_p95),
        ("p99", e.delay_ms_p99, m.delay_ms_p99),
    ] {
        let (a, b) = (a.expect("expected delay"), b.expect("measured delay"));
        if (a - b).abs() > 0.5 {
            bad.push(format!("delay {k} {a:.3} vs {b:.3}"));
        }
    }
    if (e.reorder_rate - m.reorder_rate).abs() > 0.005 {
        bad.push(format!("reorder {} vs {}", e.reorder_rate, m.reorder_rate));
    }
    if (e.duplicate_rate - m.duplicate_rate).abs() > 0.005 {
        bad.push(format!("duplicate {} vs {}", e.duplicate_rate, m.duplicate_rate));
    }
    assert!(bad.is_empty(), "{name}: {bad:?}\nconfigured {e:?}\nmeasured {m:?}");
    c
}

#[test]
fn random_loss() {
    let c = check("random 5 %", "[uplink.loss]\nmodel = \"random\"\npercent = 5\n");
    // Closed forms, independently of the expectation module: p and 1 / (1 − p).
    assert!((c.configured.loss_rate - 0.05).abs() < 1e-9);
    assert!((c.configured.mean_burst.unwrap() * 0.95 - 1.0).abs() < 1e-4);
}

#[test]
fn correlated_random_loss_keeps_its_mean() {
    let c =
        check("random 10 % corr 50 %", "[uplink.loss]\nmodel = \"random\"\npercent = 10\ncorrelation_percent = 50\n");
    assert!((c.configured.loss_rate - 0.10).abs() < 1e-9, "correlation must not move the mean");
    // Repeat-with-ρ chain: P(loss | loss) = ρ + (1 − ρ)p = 0.55, so bursts average 1 / 0.45.
    assert!((c.configured.mean_burst.unwrap() * 0.45 - 1.0).abs() < 1e-4);
}

#[test]
fn gilbert_loss() {
    let c = check("gilbert", "[uplink.loss]\nmodel = \"gemodel\"\np_percent = 1\nr_percent = 30\n");
    // Gilbert (1-h = 100 %, 1-k = 0): loss p / (p + r), mean burst 1 / r.
    assert!((c.configured.loss_rate - 0.01 / 0.31).abs() < 1e-6);
    assert!((c.configured.mean_burst.unwrap() * 0.30 - 1.0).abs() < 1e-4);
}

#[test]
fn gilbert_elliott_loss() {
    let c = check(
        "gilbert-elliott",
        "[uplink.loss]\nmodel = \"gemodel\"\np_percent = 2\nr_percent = 20\none_minus_h_percent = 70\none_minus_k_percent = 1\n",
    );
    // Stationary loss: π_bad (1 − h) + π_good (1 − k).
    let pb = 0.02 / 0.22;
    assert!((c.configured.loss_rate - (pb * 0.7 + (1.0 - pb) * 0.01)).abs() < 1e-6);
}

#[test]
fn four_state_loss() {
    check("4-state", "[uplink.loss]\nmodel = \"state\"\np13 = 1\np31 = 30\np32 = 10\np23 = 50\np14 = 1\n");
}

#[test]
fn trace_loss() {
    let c = check("trace", "[uplink.loss]\nmodel = \"trace\"\npattern = \"0000011100 0000000001 1000000000\"\n");
    assert!((c.measured.loss_rate - 5.0 / 30.0).abs() < 1e-4);
}

#[test]
fn normal_jitter_is_fifo_clamped() {
    let c = check("normal jitter", "[uplink.delay]\nms = 40\njitter_ms = 10\ndistribution = \"normal\"\n");
    // The clamp moves the median above the configured 40 ms: the expectation accounts for it.
    assert!(c.configured.delay_ms_p50.unwrap() > 40.0);
    assert_eq!(c.measured.reorder_rate, 0.0);
}

#[test]
fn correlated_normal_jitter() {
    check(
        "normal jitter corr",
        "[uplink.delay]\nms = 60\njitter_ms = 12\ncorrelation_percent = 25\ndistribution = \"normal\"\n[uplink.loss]\nmodel = \"random\"\npercent = 2\n",
    );
}

#[test]
fn uniform_jitter() {
    check("uniform jitter", "[uplink.delay]\nms = 30\njitter_ms = 15\n");
}

#[test]
fn pareto_jitter() {
    check("pareto jitter", "[uplink.delay]\nms = 50\njitter_ms = 5\ndistribution = \"pareto\"\n");
}

#[test]
fn paretonormal_jitter() {
    check("paretonormal jitter", "[uplink.delay]\nms = 50\njitter_ms = 5\ndistribution = \"paretonormal\"\n");
}

#[test]
fn netem_reorder() {
    let c = check("reorder gap 1", "[uplink.delay]\nms = 70\n[uplink.reorder]\npercent = 10\n");
    assert!(c.measured.reorder_rate > 0.1);
    check(
        "reorder gap 5 with jitter",
        "[uplink.delay]\nms = 50\njitter_ms = 5\ndistribution = \"normal\"\n[uplink.reorder]\npercent = 25\ngap = 5\n",
    );
}

#[test]
fn rate_limit_overload() {
    // 40 kbit/s of voice into 32 kbit/s: a fifth dropped, standing delay ≈ queue / rate.
    let c = check("rate overload", "[uplink.rate]\nkbit = 32\nqueue_bytes = 2000\n");
    assert!((c.measured.loss_rate - 0.2).abs() < 0.001);
    assert!(c.measured.delay_ms_p50.unwrap() > 480.0);
}

#[test]
fn bufferbloat_with_cross_traffic() {
    let c = check(
        "cross traffic",
        "[uplink.delay]\nms = 10\n[uplink.rate]\nkbit = 2000\nqueue_bytes = 100000\ncross_traffic_kbit = 1970\n",
    );
    assert!(c.measured.delay_ms_p50.unwrap() > 400.0, "a full 100 kB buffer at 2 Mbit/s holds 400 ms");
}

#[test]
fn scheduled_blackout_and_spike() {
    let c = check(
        "schedule",
        "[uplink]\nschedule_period_s = 20\n[uplink.delay]\nms = 40\njitter_ms = 4\ndistribution = \"normal\"\n\
         [[uplink.schedule]]\nfrom_s = 5\nuntil_s = 5.5\ndelay = { ms = 250 }\n\
         [[uplink.schedule]]\nfrom_s = 12\nuntil_s = 15\nblackout = true\n",
    );
    assert!((c.measured.loss_rate - 0.15).abs() < 0.001);
    assert!(c.measured.delay_ms_p99.unwrap() > 200.0);
}

#[test]
fn duplicates_and_corruption() {
    let c = check("dup+corrupt", "[uplink]\nduplicate_percent = 3\ncorrupt_percent = 1\n[uplink.delay]\nms = 20\n");
    let k = c.counters;
    let copies = (k.delivered + k.duplicates) as f64;
    assert!((k.corrupted as f64 / copies - 0.01).abs() < 0.001, "corrupted {}", k.corrupted);
}
