//! The ITU-T G.107 E-model (06/2015): transmission rating R from delay, loss and codec, and
//! the R → MOS-CQE mapping of its Annex B.
//!
//! `R = Ro − Is − Id − Ie,eff + A`, with every G.107 default (SLR 8, RLR 2, STMR 15, Ds = Dr = 3,
//! TELR 65, WEPL 110, qdu 1, Nc −70 dBm0p, Nfor −64 dBmp, Ps = Pr = 35 dB(A), A 0), which gives
//! `R = 93.2` for a perfect narrow-band connection. Delay enters through `Ta` (absolute
//! mouth-to-ear delay, [`EModelInput::one_way_delay_ms`]); the talker-echo delay `T` and the
//! listener-echo round trip `Tr` default to `Ta` and `2·Ta` (see [`EModelParams`]).
//!
//! Codec impairment (`Ie`) and packet-loss robustness (`Bpl`) per codec: [`G711_PLC`] and
//! [`G711_NO_PLC`] from ITU tables; Opus has no ITU values, so the `OPUS_*` constants are
//! **fitted** to this project's measurements (see [`OPUS_FIT_NOTE`]).

/// Per-call inputs of the E-model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EModelInput {
    /// `Ta`: absolute one-way (mouth-to-ear) delay in ms.
    pub one_way_delay_ms: f64,
    /// `Ppl`: packet-loss probability in percent (0–100).
    pub packet_loss_percent: f64,
    /// `BurstR`: 1 for random (Bernoulli) loss, > 1 for bursty loss; see [`burst_ratio`].
    pub burst_ratio: f64,
    /// `Ie`: equipment impairment factor of the codec at zero loss.
    pub ie: f64,
    /// `Bpl`: packet-loss robustness factor of the codec (with its concealment).
    pub bpl: f64,
}

impl EModelInput {
    /// Input for `codec` at the given delay, loss (percent) and burst ratio.
    pub fn new(codec: &CodecImpairment, one_way_delay_ms: f64, packet_loss_percent: f64, burst_ratio: f64) -> Self {
        Self { one_way_delay_ms, packet_loss_percent, burst_ratio, ie: codec.ie, bpl: codec.bpl }
    }
}

/// Codec constants for the E-model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    pub name: &'static str,
    /// Equipment impairment factor `Ie`.
    pub ie: f64,
    /// Packet-loss robustness factor `Bpl`.
    pub bpl: f64,
    /// `true` when the values are this project's fit, not an ITU-tabulated value.
    pub fitted: bool,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// G.711 with packet-loss concealment (G.711 Appendix I PLC), random loss: `Ie = 0`, `Bpl = 25.1`.
/// Source: ITU-T G.113 Appendix I (provisional planning values for `Ie`/`Bpl`). The value is a
/// recalled one, not re-checked against the Recommendation's text (docs/quality-metrics.md).
pub const G711_PLC: CodecImpairment = CodecImpairment {
    name: "G.711 + PLC",
    ie: 0.0,
    bpl: 25.1,
    fitted: false,
    source: "ITU-T G.113 Appendix I (G.711 with Appendix I PLC, random loss); recalled, not re-checked",
};

/// G.711 without concealment: `Ie = 0`, `Bpl = 4.3` (G.107's default `Bpl`, G.113 Appendix I).
pub const G711_NO_PLC: CodecImpairment = CodecImpairment {
    name: "G.711 without PLC",
    ie: 0.0,
    bpl: 4.3,
    fitted: false,
    source: "ITU-T G.107 default Bpl / G.113 Appendix I (G.711 without PLC)",
};

/// How the `OPUS_*` constants were obtained. Not ITU values.
pub const OPUS_FIT_NOTE: &str = "FITTED, not ITU-tabulated (ITU publishes no Ie/Bpl for Opus). \
Data: Jitterbug's Opus x FEC x random-loss table (docs/quality-metrics.md): opus-tools 0.2 on \
libopus 1.3.1, 48 kHz mono, 20 ms frames, VBR 16/24/32 kbps, FEC on or off, seeded Bernoulli loss \
0/1/3/5/10/20 %, a lost packet decoded from the next packet's in-band FEC when that arrived (as \
libwebrtc NetEq does), else concealed by PLC; scored with PESQ-WB (ITU-T P.862.2) at 16 kHz, the \
mean over 3 clips (espeak-ng, Festival slt, CMU ARCTIC a0007) x 10 loss seeds (OPUS_FIT_DATA). \
Method: each PESQ-WB score is mapped to R by inverting G.107 Annex B (treating the wideband \
MOS-LQO as if on the narrow-band MOS scale), then Ie and Bpl are fitted by least squares in R to \
R(Ppl) = R0 - Ie,eff(Ppl) with R0 = 93.2 (G.107 defaults, Ta = 0), BurstR = 1 and \
Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl): Ie in closed form for each Bpl, Bpl by a log-spaced \
search (fit_ie_bpl). RMS residual 0.7-1.5 R points. The 16 kbps rows carry no LBRR even with FEC \
requested, so 16 kbps is PLC only. Caveats: PESQ-WB is not a narrow-band MOS, the clips are short \
and two of the three synthetic, and libopus 1.6 (the opus crate) differs from 1.3.1: refit with \
the codec the harness ships before gating on R.";

const OPUS_SOURCE: &str = "fitted (see OPUS_FIT_NOTE)";

/// Opus 16 kbps, PLC only (no in-band FEC data fits at this rate). **Fitted**, see [`OPUS_FIT_NOTE`].
pub const OPUS_16K_PLC: CodecImpairment =
    CodecImpairment { name: "Opus 16 kbps PLC", ie: 18.96, bpl: 12.36, fitted: true, source: OPUS_SOURCE };
/// Opus 24 kbps, PLC only. **Fitted**, see [`OPUS_FIT_NOTE`].
pub const OPUS_24K_PLC: CodecImpairment =
    CodecImpairment { name: "Opus 24 kbps PLC", ie: 11.62, bpl: 10.71, fitted: true, source: OPUS_SOURCE };
/// Opus 24 kbps with in-band FEC (LBRR) and PLC. **Fitted**, see [`OPUS_FIT_NOTE`].
pub const OPUS_24K_FEC: CodecImpairment =
    CodecImpairment { name: "Opus 24 kbps FEC", ie: 22.76, bpl: 54.34, fitted: true, source: OPUS_SOURCE };
/// Opus 32 kbps, PLC only. **Fitted**, see [`OPUS_FIT_NOTE`].
pub const OPUS_32K_PLC: CodecImpairment =
    CodecImpairment { name: "Opus 32 kbps PLC", ie: 7.73, bpl: 9.87, fitted: true, source: OPUS_SOURCE };
/// Opus 32 kbps with in-band FEC (LBRR) and PLC. **Fitted**, see [`OPUS_FIT_NOTE`].
pub const OPUS_32K_FEC: CodecImpairment =
    CodecImpairment { name: "Opus 32 kbps FEC", ie: 15.57, bpl: 50.67, fitted: true, source: OPUS_SOURCE };

/// The data behind the Opus fits: `(kbps, fec_requested, loss_percent, mean PESQ-WB)`.
#[rustfmt::skip]
pub const OPUS_FIT_DATA: &[(u32, bool, f64, f64)] = &[
    (16, true, 0.0, 3.73), (16, true, 1.0, 3.46), (16, true, 3.0, 3.12), (16, true, 5.0, 2.88), (16, true, 10.0, 2.22), (16, true, 20.0, 1.57),
    (16, false, 0.0, 3.81), (16, false, 1.0, 3.48), (16, false, 3.0, 3.06), (16, false, 5.0, 2.76), (16, false, 10.0, 2.07), (16, false, 20.0, 1.48),
    (24, true, 0.0, 3.55), (24, true, 1.0, 3.53), (24, true, 3.0, 3.48), (24, true, 5.0, 3.39), (24, true, 10.0, 3.12), (24, true, 20.0, 2.55),
    (24, false, 0.0, 4.13), (24, false, 1.0, 3.73), (24, false, 3.0, 3.22), (24, false, 5.0, 2.90), (24, false, 10.0, 2.14), (24, false, 20.0, 1.50),
    (32, true, 0.0, 3.86), (32, true, 1.0, 3.84), (32, true, 3.0, 3.79), (32, true, 5.0, 3.69), (32, true, 10.0, 3.42), (32, true, 20.0, 2.74),
    (32, false, 0.0, 4.27), (32, false, 1.0, 3.84), (32, false, 3.0, 3.29), (32, false, 5.0, 2.95), (32, false, 10.0, 2.16), (32, false, 20.0, 1.51),
];

/// G.107's delay-sensitivity classes (2015): `(sT, mT)` of the `Idd` term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DelaySensitivity {
    /// sT = 1, mT = 100 ms (the default).
    #[default]
    Default,
    /// sT = 0.55, mT = 120 ms.
    Low,
    /// sT = 0.4, mT = 150 ms.
    VeryLow,
}

impl DelaySensitivity {
    /// `(sT, mT in ms)`.
    pub fn parameters(self) -> (f64, f64) {
        match self {
            Self::Default => (1.0, 100.0),
            Self::Low => (0.55, 120.0),
            Self::VeryLow => (0.4, 150.0),
        }
    }
}

/// The E-model's terminal and environment parameters; `Default` is G.107's default set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EModelParams {
    /// Send loudness rating (dB).
    pub slr: f64,
    /// Receive loudness rating (dB).
    pub rlr: f64,
    /// Sidetone masking rating (dB).
    pub stmr: f64,
    /// D-value of the telephone, send side.
    pub ds: f64,
    /// D-value of the telephone, receive side.
    pub dr: f64,
    /// Talker echo loudness rating (dB).
    pub telr: f64,
    /// Weighted echo path loss (dB).
    pub wepl: f64,
    /// Number of quantisation distortion units.
    pub qdu: f64,
    /// Circuit noise referred to the 0 dBr point (dBm0p).
    pub nc: f64,
    /// Noise floor at the receive side (dBmp).
    pub nfor: f64,
    /// Room noise at the send side (dB(A)).
    pub ps: f64,
    /// Room noise at the receive side (dB(A)).
    pub pr: f64,
    /// Advantage factor A.
    pub a: f64,
    /// Mean one-way delay of the echo path `T` (ms); `None` = `Ta`.
    pub t_ms: Option<f64>,
    /// Round-trip delay of the listener-echo loop `Tr` (ms); `None` = `2·Ta`.
    pub tr_ms: Option<f64>,
    /// Delay-sensitivity class for `Idd`.
    pub delay_sensitivity: DelaySensitivity,
}

impl Default for EModelParams {
    fn default() -> Self {
        Self {
            slr: 8.0,
            rlr: 2.0,
            stmr: 15.0,
            ds: 3.0,
            dr: 3.0,
            telr: 65.0,
            wepl: 110.0,
            qdu: 1.0,
            nc: -70.0,
            nfor: -64.0,
            ps: 35.0,
            pr: 35.0,
            a: 0.0,
            t_ms: None,
            tr_ms: None,
            delay_sensitivity: DelaySensitivity::Default,
        }
    }
}

/// Every term of one R computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RBreakdown {
    /// Basic signal-to-noise ratio `Ro`.
    pub ro: f64,
    /// Simultaneous impairment `Is = Iolr + Ist + Iq`.
    pub is: f64,
    /// Delay impairment `Id = Idte + Idle + Idd`.
    pub id: f64,
    pub idte: f64,
    pub idle: f64,
    pub idd: f64,
    /// Effective equipment impairment `Ie,eff`.
    pub ie_eff: f64,
    pub a: f64,
    /// `R = Ro − Is − Id − Ie,eff + A`.
    pub r: f64,
}

/// R factor with G.107 default parameters (see [`r_factor_detailed`]).
pub fn r_factor(input: &EModelInput) -> f64 {
    r_factor_detailed(input, &EModelParams::default()).r
}

/// `Idd`, the impairment of absolute delay `Ta` (ms): 0 up to `mT`, then
/// `25·[(1+X^(6sT))^(1/(6sT)) − 3·(1+(X/3)^(6sT))^(1/(6sT)) + 2]` with `X = log2(Ta/mT)`.
pub fn idd(ta_ms: f64, sensitivity: DelaySensitivity) -> f64 {
    let (s_t, m_t) = sensitivity.parameters();
    if ta_ms <= m_t {
        return 0.0;
    }
    let x = (ta_ms / m_t).log2();
    let e = 6.0 * s_t;
    25.0 * ((1.0 + x.powf(e)).powf(1.0 / e) - 3.0 * (1.0 + (x / 3.0).powf(e)).powf(1.0 / e) + 2.0)
}

/// `Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl)`.
pub fn ie_eff(ie: f64, bpl: f64, packet_loss_percent: f64, burst_ratio: f64) -> f64 {
    let ppl = packet_loss_percent;
    if ppl <= 0.0 {
        return ie;
    }
    ie + (95.0 - ie) * ppl / (ppl / burst_ratio + bpl)
}

/// The full G.107 computation, every term returned.
pub fn r_factor_detailed(input: &EModelInput, p: &EModelParams) -> RBreakdown {
    let ta = input.one_way_delay_ms.max(0.0);
    let t = p.t_ms.unwrap_or(ta).max(0.0);
    let tr = p.tr_ms.unwrap_or(2.0 * ta).max(0.0);
    let db_sum = |levels: &[f64]| 10.0 * levels.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>().log10();

    // Basic signal-to-noise ratio Ro
    let olr = p.slr + p.rlr;
    let lstr = p.stmr + p.dr;
    let nos = p.ps - p.slr - p.ds - 100.0 + 0.004 * (p.ps - olr - p.ds - 14.0).powi(2);
    let pre = p.pr + 10.0 * (1.0 + 10f64.powf((10.0 - lstr) / 10.0)).log10();
    let nor = p.rlr - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
    let nfo = p.nfor + p.rlr;
    let no = db_sum(&[p.nc, nos, nor, nfo]);
    let ro = 15.0 - 1.5 * (p.slr + no);

    // Simultaneous impairment Is
    let xolr = olr + 0.2 * (64.0 + no - p.rlr);
    let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
    let stmro = -10.0 * (10f64.powf(-p.stmr / 10.0) + (-t / 4.0).exp() * 10f64.powf(-p.telr / 10.0)).log10();
    let ist = 12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
        - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
        - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
        + 29.0;
    let q = 37.0 - 15.0 * p.qdu.log10();
    let g = 1.07 + 0.258 * q + 0.0602 * q * q;
    let z = 46.0 / 30.0 - g / 40.0;
    let y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
    let iq = 15.0 * (1.0 + 10f64.powf(y) + 10f64.powf(z)).log10();
    let is = iolr + ist + iq;

    // Delay impairment Id
    let idte = if t < 1.0 {
        0.0 // G.107: below 1 ms talker echo counts as sidetone
    } else {
        let mut terv = p.telr - 40.0 * ((1.0 + t / 10.0) / (1.0 + t / 150.0)).log10() + 6.0 * (-0.3 * t * t).exp();
        if p.stmr < 9.0 {
            terv += ist / 2.0;
        }
        let roe = -1.5 * (no - p.rlr);
        let re = 80.0 + 2.5 * (terv - 14.0);
        ((roe - re) / 2.0 + ((roe - re).powi(2) / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp())
    };
    let rle = 10.5 * (p.wepl + 7.0) * (tr + 1.0).powf(-0.25);
    let idle = (ro - rle) / 2.0 + ((ro - rle).powi(2) / 4.0 + 169.0).sqrt();
    let idd = idd(ta, p.delay_sensitivity);
    let id = idte + idle + idd;

    let ie_eff = ie_eff(input.ie, input.bpl, input.packet_loss_percent, input.burst_ratio);
    let r = ro - is - id - ie_eff + p.a;
    RBreakdown { ro, is, id, idte, idle, idd, ie_eff, a: p.a, r }
}

/// G.107 Annex B: `MOS = 1 + 0.035R + 7·10⁻⁶·R(R−60)(100−R)` for 0 < R < 100, 1 at or below 0,
/// 4.5 at or above 100.
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
    }
}

/// Inverse of [`mos_from_r`] on (1, 4.5): the R in (6.5, 100) with that MOS (bisection).
/// MOS ≤ 1 gives 0 and MOS ≥ 4.5 gives 100.
pub fn r_from_mos(mos: f64) -> f64 {
    if mos <= 1.0 {
        return 0.0;
    }
    if mos >= 4.5 {
        return 100.0;
    }
    let (mut lo, mut hi) = (0.0f64, 100.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mos_from_r(mid) < mos { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// G.107's `BurstR`: mean observed loss-burst length divided by the mean burst length random
/// loss at the same rate would give (`1/(1 − loss_rate)`), i.e. `mean_burst · (1 − loss_rate)`.
/// `loss_rate` is a fraction in [0, 1]; `mean_burst` is in packets (a burst is at least one
/// packet, so smaller values count as 1). `BurstR < 1` means smoother-than-random loss. For a
/// 2-state Markov (Gilbert) loss process with `p = P(loss | received)` and
/// `q = P(received | lost)` this equals `1/(p + q)` ([`burst_ratio_markov`]).
/// Edge cases: everything lost (`loss_rate ≥ 1`) returns 1, since burstiness means nothing
/// then; NaN for negative or non-finite arguments.
pub fn burst_ratio(loss_rate: f64, mean_burst: f64) -> f64 {
    if !loss_rate.is_finite() || !mean_burst.is_finite() || loss_rate < 0.0 || mean_burst < 0.0 {
        return f64::NAN;
    }
    if loss_rate >= 1.0 {
        return 1.0;
    }
    mean_burst.max(1.0) * (1.0 - loss_rate)
}

/// `BurstR = 1/(p + q)` for a 2-state Markov loss process (`p = P(loss | received)`,
/// `q = P(received | lost)`); NaN unless both are in (0, 1].
pub fn burst_ratio_markov(p: f64, q: f64) -> f64 {
    if !((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&q)) || p == 0.0 || q == 0.0 {
        return f64::NAN;
    }
    1.0 / (p + q)
}

/// Result of [`fit_ie_bpl`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IeBplFit {
    pub ie: f64,
    pub bpl: f64,
    /// Root-mean-square residual in R points.
    pub rmse: f64,
}

/// Least-squares fit of `Ie` and `Bpl` to measured `(loss_percent, R)` points at `Ta = 0` with
/// G.107 defaults and the given `BurstR`: `R = R0 − Ie,eff(Ppl)`. `Ie,eff` is linear in `Ie`, so
/// `Ie` is solved in closed form for each candidate `Bpl`; `Bpl` is searched on a log grid over
/// [0.1, 1000] then refined by golden section. Needs at least two distinct loss values.
pub fn fit_ie_bpl(points: &[(f64, f64)], burst_ratio: f64) -> IeBplFit {
    let r0 =
        r_factor(&EModelInput { one_way_delay_ms: 0.0, packet_loss_percent: 0.0, burst_ratio: 1.0, ie: 0.0, bpl: 1.0 });
    let solve = |bpl: f64| -> (f64, f64) {
        let (mut num, mut den) = (0.0, 0.0);
        let us: Vec<f64> =
            points.iter().map(|&(ppl, _)| if ppl <= 0.0 { 0.0 } else { ppl / (ppl / burst_ratio + bpl) }).collect();
        for (&(_, r), &u) in points.iter().zip(&us) {
            let e = r0 - r;
            num += (1.0 - u) * (e - 95.0 * u);
            den += (1.0 - u) * (1.0 - u);
        }
        let ie = num / den;
        let sse = points.iter().zip(&us).map(|(&(_, r), &u)| (r0 - r - (ie * (1.0 - u) + 95.0 * u)).powi(2)).sum();
        (ie, sse)
    };
    let (lo, hi, steps) = (0.1f64.ln(), 1000f64.ln(), 2000);
    let at = |i: usize| (lo + (hi - lo) * i as f64 / steps as f64).exp();
    let best = (0..=steps).min_by(|&a, &b| solve(at(a)).1.total_cmp(&solve(at(b)).1)).unwrap_or(0);
    let (mut a, mut b) = (at(best.saturating_sub(1)).ln(), at((best + 1).min(steps)).ln());
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..100 {
        let c = b - phi * (b - a);
        let d = a + phi * (b - a);
        if solve(c.exp()).1 < solve(d.exp()).1 { b = d } else { a = c }
    }
    let bpl = (0.5 * (a + b)).exp();
    let (ie, sse) = solve(bpl);
    IeBplFit { ie, bpl, rmse: (sse / points.len() as f64).sqrt() }
}
