//! Metrics against external references: STOI/ESTOI against pystoi's values for the committed
//! fixtures (golden/fixtures/stoi), the delay estimator on speech with injected delays, the
//! E-model against G.107 reference points, and the counter helpers' definitions.

use std::path::{Path, PathBuf};

use jitterbug_core::metrics::delay::{align, estimate_delay};
use jitterbug_core::metrics::emodel::{
    self, DelaySensitivity, EModelInput, EModelParams, G711_NO_PLC, G711_PLC, OPUS_16K_PLC, OPUS_24K_FEC, OPUS_24K_PLC,
    OPUS_32K_FEC, OPUS_32K_PLC, OPUS_FIT_DATA, OPUS_FIT_NOTE, burst_ratio, burst_ratio_markov, fit_ie_bpl, mos_from_r,
    r_factor, r_factor_detailed, r_from_mos,
};
use jitterbug_core::metrics::stoi::{Stoi, estoi, stoi};
use jitterbug_core::metrics::{MetricError, concealment_ratio, effective_loss};

/// The acceptance bound against pystoi.
const PYSTOI_TOLERANCE: f64 = 0.005;
/// What this port actually achieves (same algorithm, same resampler); a regression guard.
const PYSTOI_EXACT_PORT_TOLERANCE: f64 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/fixtures/stoi")
}

fn read_wav(path: &Path) -> (Vec<f32>, u32) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.bits_per_sample, spec.sample_format),
        (1, 16, hound::SampleFormat::Int),
        "{}",
        path.display()
    );
    let x = r.samples::<i16>().map(|s| f32::from(s.expect("sample")) / 32768.0).collect();
    (x, spec.sample_rate)
}

struct Pair {
    name: String,
    reference: Vec<f32>,
    degraded: Vec<f32>,
    sample_rate: u32,
    stoi: f64,
    estoi: f64,
}

fn pairs() -> Vec<Pair> {
    let dir = fixtures();
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let pairs = json["pairs"].as_array().expect("pairs array");
    assert!(pairs.len() >= 8, "expected at least 8 fixture pairs, found {}", pairs.len());
    pairs
        .iter()
        .map(|p| {
            let (reference, fs_r) = read_wav(&dir.join(p["reference"].as_str().expect("reference")));
            let (degraded, fs_d) = read_wav(&dir.join(p["degraded"].as_str().expect("degraded")));
            let sample_rate = p["sample_rate"].as_u64().expect("sample_rate") as u32;
            assert_eq!((fs_r, fs_d), (sample_rate, sample_rate));
            Pair {
                name: p["degraded"].as_str().expect("name").to_owned(),
                reference,
                degraded,
                sample_rate,
                stoi: p["stoi"].as_f64().expect("stoi"),
                estoi: p["estoi"].as_f64().expect("estoi"),
            }
        })
        .collect()
}

#[test]
fn stoi_and_estoi_match_pystoi_on_every_fixture() {
    let (mut max_stoi, mut max_estoi) = (0.0f64, 0.0f64);
    let mut report = String::new();
    for p in pairs() {
        let s = Stoi::new(p.sample_rate).expect("evaluator");
        let scores = s.scores(&p.reference, &p.degraded).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        // The single-score entry points agree with the combined one.
        assert_eq!(s.stoi(&p.reference, &p.degraded).expect("stoi"), scores.stoi);
        assert_eq!(s.compute(&p.reference, &p.degraded, true).expect("estoi"), scores.estoi);
        let (ds, de) = ((scores.stoi - p.stoi).abs(), (scores.estoi - p.estoi).abs());
        report += &format!(
            "{:28} {} Hz  stoi {:.6} (pystoi {:.6}, |d| {ds:.1e})  estoi {:.6} (pystoi {:.6}, |d| {de:.1e})\n",
            p.name, p.sample_rate, scores.stoi, p.stoi, scores.estoi, p.estoi
        );
        max_stoi = max_stoi.max(ds);
        max_estoi = max_estoi.max(de);
    }
    println!("{report}max |Rust - pystoi|: STOI {max_stoi:.2e}, ESTOI {max_estoi:.2e}");
    assert!(max_stoi <= PYSTOI_TOLERANCE && max_estoi <= PYSTOI_TOLERANCE, "beyond the 0.005 bound:\n{report}");
    assert!(
        max_stoi <= PYSTOI_EXACT_PORT_TOLERANCE && max_estoi <= PYSTOI_EXACT_PORT_TOLERANCE,
        "the port drifted from pystoi (bound {PYSTOI_EXACT_PORT_TOLERANCE}):\n{report}"
    );
}

#[test]
fn free_functions_match_the_evaluator() {
    let p = &pairs()[0];
    let s = Stoi::new(p.sample_rate).expect("evaluator");
    assert_eq!(
        stoi(&p.reference, &p.degraded, p.sample_rate).expect("stoi"),
        s.stoi(&p.reference, &p.degraded).expect("stoi")
    );
    assert_eq!(
        estoi(&p.reference, &p.degraded, p.sample_rate).expect("estoi"),
        s.estoi(&p.reference, &p.degraded).expect("estoi")
    );
}

#[test]
fn identical_signals_score_one() {
    for p in pairs().into_iter().filter(|p| p.name.contains("noise_10db") || p.name.contains("noise_5db")) {
        let s = Stoi::new(p.sample_rate).expect("evaluator").scores(&p.reference, &p.reference).expect("scores");
        assert!((s.stoi - 1.0).abs() < 1e-9, "{}: STOI of identical signals {}", p.name, s.stoi);
        assert!((s.estoi - 1.0).abs() < 1e-9, "{}: ESTOI of identical signals {}", p.name, s.estoi);
    }
}

#[test]
fn scores_order_with_degradation() {
    let by_name = |n: &str| pairs().into_iter().find(|p| p.name == n).expect("fixture");
    let score =
        |p: &Pair| Stoi::new(p.sample_rate).expect("evaluator").scores(&p.reference, &p.degraded).expect("scores");
    let (a, b, c) = (
        score(&by_name("a16_noise_10db.wav")),
        score(&by_name("a16_noise_0db.wav")),
        score(&by_name("a16_noise_m5db.wav")),
    );
    assert!(a.stoi > b.stoi && b.stoi > c.stoi, "STOI must fall with SNR: {a:?} {b:?} {c:?}");
    assert!(a.estoi > b.estoi && b.estoi > c.estoi, "ESTOI must fall with SNR: {a:?} {b:?} {c:?}");
}

#[test]
fn stoi_errors_are_explicit() {
    let p = &pairs()[0];
    let s = Stoi::new(p.sample_rate).expect("evaluator");
    let (x, y) = (&p.reference, &p.degraded);
    assert!(matches!(s.stoi(x, &y[..y.len() - 1]), Err(MetricError::LengthMismatch { .. })));
    assert!(matches!(s.stoi(&[], &[]), Err(MetricError::Empty { signal: "reference" })));
    let mut nan = y.clone();
    nan[100] = f32::NAN;
    assert!(matches!(s.estoi(x, &nan), Err(MetricError::NonFinite { signal: "degraded", index: 100, .. })));
    // 0.3 s of speech: too few frames for one 30-frame segment (pystoi would return 1e-5).
    let short = (p.sample_rate as usize * 3) / 10;
    let start = x.len() / 3;
    let err = s.stoi(&x[start..start + short], &y[start..start + short]).expect_err("too short");
    assert!(matches!(err, MetricError::TooShort { needed: 30, .. }), "{err}");
    assert!(err.to_string().contains("1e-5"), "the message says what pystoi does: {err}");
    // Digital silence as reference.
    let zeros = vec![0.0f32; x.len()];
    assert!(matches!(s.stoi(&zeros, y), Err(MetricError::TooShort { .. })));
    assert!(matches!(Stoi::new(0), Err(MetricError::SampleRate { .. })));
}

// ---------------------------------------------------------------------------------------------
// Delay estimation

/// Deterministic white noise (xorshift + Box–Muller).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}

/// A codec-ish chain: one-pole low-pass (~3.4 kHz at 48 kHz), 8-bit µ-law-like companding,
/// then white noise at `snr_db`.
fn distort(x: &[f32], sample_rate: u32, snr_db: f64, seed: u64) -> Vec<f32> {
    let a = (-2.0 * std::f32::consts::PI * 3400.0 / sample_rate as f32).exp();
    let mut state = 0.0f32;
    let mu = 255.0f32;
    let y: Vec<f32> = x
        .iter()
        .map(|&v| {
            state = (1.0 - a) * v + a * state;
            let c = state.signum() * (1.0 + mu * state.abs()).ln() / (1.0 + mu).ln();
            let q = (c * 127.0).round() / 127.0;
            q.signum() * ((1.0 + mu).powf(q.abs()) - 1.0) / mu
        })
        .collect();
    let p_sig = y.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / y.len() as f64;
    let n = noise(y.len(), seed);
    let p_n = n.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n.len() as f64;
    let g = (p_sig / 10f64.powf(snr_db / 10.0) / p_n).sqrt() as f32;
    y.iter().zip(&n).map(|(s, n)| s + g * n).collect()
}

/// Zeroes each 20 ms frame with probability `p` (packet loss without concealment).
fn zero_frames(y: &mut [f32], sample_rate: u32, p: f64, seed: u64) {
    let frame = sample_rate as usize / 50;
    let u = noise(y.len() / frame + 1, seed);
    // P(N(0,1) > z) = p; z for p = 0.1 is 1.2816
    assert!((p - 0.1).abs() < 1e-12, "only 10 % is tabulated here");
    for (chunk, &n) in y.chunks_mut(frame).zip(&u) {
        if f64::from(n) > 1.2816 {
            chunk.fill(0.0);
        }
    }
}

/// `reference` delayed by `delay` samples (zeros in front).
fn delayed(x: &[f32], delay: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; delay];
    y.extend_from_slice(x);
    y
}

#[test]
fn delay_estimator_finds_injected_delays_within_1ms() {
    let (x, fs) = read_wav(&fixtures().join("ref_b_48k.wav"));
    let mut worst: f64 = 0.0;
    for (snr_db, lose) in [(10.0, false), (0.0, true)] {
        for (i, &ms) in [0.0, 7.3, 120.0, 480.0].iter().enumerate() {
            let d = (ms * f64::from(fs) / 1000.0).round() as usize;
            let mut y = distort(&delayed(&x, d), fs, snr_db, i as u64 + 1);
            if lose {
                zero_frames(&mut y, fs, 0.1, i as u64 + 7);
            }
            let est = estimate_delay(&x, &y, fs, 0.6).expect("estimate");
            let err = (est.ms - ms).abs();
            println!(
                "SNR {snr_db:4.1} dB, loss {lose:5}: injected {ms:6.1} ms -> {:8.3} ms ({} samples), |err| {err:.3} ms, corr {:.3}",
                est.ms, est.samples, est.correlation
            );
            assert!(err <= 1.0, "injected {ms} ms, estimated {est:?}");
            assert!(est.correlation > 0.4, "a degraded copy must still correlate: {est:?}");
            worst = worst.max(err);
        }
    }
    println!("worst delay error {worst:.3} ms");
}

#[test]
fn delay_estimator_handles_a_leading_degraded_signal_and_other_rates() {
    let (x, fs) = read_wav(&fixtures().join("ref_a_16k.wav"));
    // Degraded leads by 35 ms (its first 35 ms are cut): negative lag.
    let cut = (0.035 * f64::from(fs)) as usize;
    let y = distort(&x[cut..], fs, 5.0, 9);
    let est = estimate_delay(&x, &y, fs, 0.2).expect("estimate");
    assert!((est.ms + 35.0).abs() <= 1.0, "{est:?}");
    // A delay beyond the search window is not found.
    let y = delayed(&x, (0.3 * f64::from(fs)) as usize);
    let est = estimate_delay(&x, &y, fs, 0.1).expect("estimate");
    assert!(est.samples.unsigned_abs() <= (0.1 * f64::from(fs)) as u64);
    assert!(matches!(estimate_delay(&x, &y, fs, f64::NAN), Err(MetricError::InvalidParameter { .. })));
    assert!(matches!(estimate_delay(&x, &[], fs, 0.1), Err(MetricError::Empty { signal: "degraded" })));
}

#[test]
fn align_then_stoi_recovers_a_delayed_copy() {
    let (x, fs) = read_wav(&fixtures().join("ref_b_48k.wav"));
    let y = distort(&delayed(&x, (0.12 * f64::from(fs)) as usize), fs, 20.0, 3);
    let est = estimate_delay(&x, &y, fs, 0.5).expect("estimate");
    let (xa, ya) = align(&x, &y, est.samples);
    assert_eq!(xa.len(), ya.len());
    assert!((est.ms - 120.0).abs() <= 1.0, "{est:?}");
    assert!(xa.len() + (fs as usize / 1000) >= x.len(), "only the delay error is cut: {} of {}", xa.len(), x.len());
    let aligned = stoi(&xa, &ya, fs).expect("stoi");
    let unaligned = stoi(&x, &y[..x.len()], fs).expect("stoi");
    assert!(aligned > 0.9 && aligned > unaligned + 0.2, "aligned {aligned}, unaligned {unaligned}");
    // align's geometry
    let r = [1.0f32, 2.0, 3.0, 4.0];
    let d = [0.0f32, 0.0, 1.0, 2.0, 3.0];
    assert_eq!(align(&r, &d, 2), (vec![1.0, 2.0, 3.0], vec![1.0, 2.0, 3.0]));
    assert_eq!(align(&r, &d, -1), (vec![2.0, 3.0, 4.0], vec![0.0, 0.0, 1.0]));
    assert_eq!(align(&r, &d, 9), (vec![], vec![]));
}

// ---------------------------------------------------------------------------------------------
// E-model

fn g711(ta: f64, ppl: f64) -> f64 {
    r_factor(&EModelInput::new(&G711_PLC, ta, ppl, 1.0))
}

#[test]
fn emodel_default_connection_is_93_2() {
    let b = r_factor_detailed(&EModelInput::new(&G711_PLC, 0.0, 0.0, 1.0), &EModelParams::default());
    println!("{b:?}");
    assert!((b.r - 93.2).abs() < 0.01, "{b:?}");
    assert!((b.ro - 94.77).abs() < 0.01 && (b.is - 1.41).abs() < 0.01 && (b.id - 0.15).abs() < 0.01, "{b:?}");
}

#[test]
fn emodel_delay_reference_values_and_knee() {
    // Check values computed for G.107 (06/2015) defaults, T = Ta, Tr = 2·Ta.
    for (ta, r) in [(150.0, 89.5), (200.0, 85.8), (300.0, 72.7)] {
        assert!((g711(ta, 0.0) - r).abs() < 0.1, "Ta {ta}: R {} expected {r}", g711(ta, 0.0));
    }
    let mut prev = g711(0.0, 0.0);
    for ta in (10..=600).step_by(10) {
        let r = g711(f64::from(ta), 0.0);
        assert!(r < prev, "R must fall with delay: Ta {ta} R {r} prev {prev}");
        prev = r;
    }
    // Idd is zero up to mT = 100 ms and starts there.
    assert_eq!(emodel::idd(100.0, DelaySensitivity::Default), 0.0);
    assert!(emodel::idd(110.0, DelaySensitivity::Default) > 0.0);
    assert_eq!(emodel::idd(150.0, DelaySensitivity::VeryLow), 0.0);
    assert!(emodel::idd(100.5, DelaySensitivity::Default) > 0.0);
    // Idd is exactly the Id change the delay class makes: with mT moved to 150 ms the R at
    // 120 ms only loses the echo terms.
    let very_low = EModelParams { delay_sensitivity: DelaySensitivity::VeryLow, ..EModelParams::default() };
    let r_120 = |p: &EModelParams| r_factor_detailed(&EModelInput::new(&G711_PLC, 120.0, 0.0, 1.0), p).r;
    let d = r_120(&very_low) - r_120(&EModelParams::default());
    assert!((d - emodel::idd(120.0, DelaySensitivity::Default)).abs() < 1e-12 && d > 0.0);
    // The knee: R falls far faster past 100 ms (Idd: 0.16 at 150 ms, 3.0 at 200, 14.8 at 300).
    let drop = |a: f64, b: f64| g711(a, 0.0) - g711(b, 0.0);
    println!(
        "R drop 0-100 ms {:.2}, 100-200 ms {:.2}, 200-300 ms {:.2}",
        drop(0.0, 100.0),
        drop(100.0, 200.0),
        drop(200.0, 300.0)
    );
    assert!(drop(100.0, 200.0) > 1.5 * drop(0.0, 100.0) && drop(200.0, 300.0) > 2.0 * drop(100.0, 200.0));
    assert!((emodel::idd(200.0, DelaySensitivity::Default) - 3.04).abs() < 0.01);
}

#[test]
fn emodel_loss_lowers_r_and_bursts_hurt_more() {
    let mut prev = g711(0.0, 0.0);
    for ppl in [0.5, 1.0, 2.0, 5.0, 10.0, 20.0] {
        let r = g711(0.0, ppl);
        assert!(r < prev, "R must fall with loss: {ppl} % R {r}");
        prev = r;
    }
    // Ie,eff at 5 % random loss with Bpl 25.1: 95·5/30.1 = 15.78
    assert!((g711(0.0, 0.0) - g711(0.0, 5.0) - 95.0 * 5.0 / 30.1).abs() < 1e-9);
    assert!(r_factor(&EModelInput::new(&G711_PLC, 0.0, 5.0, 2.0)) < g711(0.0, 5.0));
    assert!(r_factor(&EModelInput::new(&G711_NO_PLC, 0.0, 5.0, 1.0)) < g711(0.0, 5.0));
}

#[test]
fn mos_mapping_reference_points() {
    assert!((mos_from_r(93.2) - 4.41).abs() < 0.005, "{}", mos_from_r(93.2));
    assert!((mos_from_r(50.0) - 2.575).abs() < 1e-9, "{}", mos_from_r(50.0));
    assert!((mos_from_r(80.0) - 4.024).abs() < 1e-9);
    assert_eq!((mos_from_r(-5.0), mos_from_r(0.0), mos_from_r(100.0), mos_from_r(120.0)), (1.0, 1.0, 4.5, 4.5));
    for r in [10.0, 30.0, 50.0, 70.0, 93.2] {
        assert!((r_from_mos(mos_from_r(r)) - r).abs() < 1e-6);
    }
}

#[test]
fn burst_ratio_definitions() {
    // Random loss: the mean burst at loss rate p is 1/(1-p), so BurstR = 1.
    assert!((burst_ratio(0.2, 1.0 / 0.8) - 1.0).abs() < 1e-12);
    // Gilbert: p = P(loss|ok) = 0.05, q = P(ok|loss) = 0.4 -> rate p/(p+q), mean burst 1/q.
    let (p, q) = (0.05, 0.4);
    assert!((burst_ratio(p / (p + q), 1.0 / q) - burst_ratio_markov(p, q)).abs() < 1e-12);
    assert!((burst_ratio_markov(p, q) - 1.0 / 0.45).abs() < 1e-12);
    // Smoother than random: isolated losses at 30 %.
    assert!((burst_ratio(0.3, 1.0) - 0.7).abs() < 1e-12);
    // Edge cases: a burst is at least one packet; total loss is "random"; garbage is NaN.
    assert_eq!(burst_ratio(0.3, 0.0), burst_ratio(0.3, 1.0));
    assert_eq!(burst_ratio(1.0, 50.0), 1.0);
    assert!(
        burst_ratio(-0.1, 2.0).is_nan() && burst_ratio(0.1, f64::NAN).is_nan() && burst_ratio_markov(0.0, 0.5).is_nan()
    );
}

#[test]
fn opus_constants_are_the_documented_fit() {
    assert!(OPUS_FIT_NOTE.contains("FITTED"));
    for (codec, kbps, fec) in [
        (OPUS_16K_PLC, 16, false),
        (OPUS_24K_PLC, 24, false),
        (OPUS_24K_FEC, 24, true),
        (OPUS_32K_PLC, 32, false),
        (OPUS_32K_FEC, 32, true),
    ] {
        assert!(codec.fitted && !G711_PLC.fitted);
        let pts: Vec<(f64, f64)> =
            OPUS_FIT_DATA.iter().filter(|r| r.0 == kbps && r.1 == fec).map(|r| (r.2, r_from_mos(r.3))).collect();
        assert_eq!(pts.len(), 6);
        let fit = fit_ie_bpl(&pts, 1.0);
        println!("{}: refit Ie {:.2} Bpl {:.2} rmse {:.2}", codec.name, fit.ie, fit.bpl, fit.rmse);
        assert!((fit.ie - codec.ie).abs() < 0.05 && (fit.bpl - codec.bpl).abs() < 0.05, "{}: {fit:?}", codec.name);
        assert!(fit.rmse < 2.0);
    }
    // FEC makes Opus more robust to loss (higher Bpl) at a cost at 0 % (higher Ie).
    const { assert!(OPUS_32K_FEC.bpl > 3.0 * OPUS_32K_PLC.bpl && OPUS_32K_FEC.ie > OPUS_32K_PLC.ie) };
}

#[test]
fn fit_recovers_known_parameters() {
    let r0 = r_factor(&EModelInput::new(&G711_PLC, 0.0, 0.0, 1.0));
    let pts: Vec<(f64, f64)> =
        [0.0, 1.0, 2.0, 5.0, 10.0, 20.0].iter().map(|&ppl| (ppl, r0 - emodel::ie_eff(11.0, 19.0, ppl, 1.0))).collect();
    let fit = fit_ie_bpl(&pts, 1.0);
    assert!((fit.ie - 11.0).abs() < 1e-6 && (fit.bpl - 19.0).abs() < 1e-4 && fit.rmse < 1e-6, "{fit:?}");
}

// ---------------------------------------------------------------------------------------------
// Counter helpers

#[test]
fn helper_definitions() {
    assert_eq!(concealment_ratio(480, 4800), 0.1);
    assert_eq!(concealment_ratio(0, 0), 0.0);
    assert_eq!(effective_loss(10, 4, 100), 0.06);
    assert_eq!(effective_loss(10, 20, 100), 0.0, "recoveries beyond the losses do not count");
    assert_eq!(effective_loss(0, 0, 0), 0.0);
}
