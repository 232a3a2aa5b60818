//! Loss processes with netem's semantics, as small state machines driven by one random stream.

use std::sync::Arc;

use crate::profile::{Loss, Percent};
use crate::rng::Stream;

/// Runtime state of one configured loss model.
#[derive(Debug, Clone)]
pub enum LossProcess {
    /// Bernoulli(p); with correlation ρ the previous decision is repeated with probability ρ,
    /// a Markov chain whose stationary loss rate stays p.
    Random {
        p: f64,
        rho: f64,
        last: Option<bool>,
    },
    /// netem `gemodel`: the loss decision uses the current state, then the chain moves.
    Gilbert {
        p: f64,
        r: f64,
        loss_in_bad: f64,
        loss_in_good: f64,
        bad: bool,
    },
    /// netem `loss state`: the chain moves first; states 3 and 4 are lost.
    FourState {
        p13: f64,
        p31: f64,
        p32: f64,
        p23: f64,
        p14: f64,
        state: FourStates,
    },
    /// A recorded pattern replayed cyclically.
    Trace {
        drops: Arc<[bool]>,
        pos: usize,
    },
    Blackout,
}

/// netem's four states: 1 gap (good), 2 good within a burst, 3 burst loss, 4 isolated loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FourStates {
    Gap = 1,
    BurstGood = 2,
    BurstLoss = 3,
    Isolated = 4,
}

/// Resolved GE parameters (fractions), applying netem's defaults.
pub fn gilbert_params(loss: &Loss) -> Option<(f64, f64, f64, f64)> {
    match loss {
        Loss::Gemodel { p_percent, r_percent, one_minus_h_percent, one_minus_k_percent } => {
            let p = p_percent.fraction();
            let r = r_percent.map(Percent::fraction).unwrap_or(1.0 - p);
            Some((p, r, one_minus_h_percent.fraction(), one_minus_k_percent.fraction()))
        }
        _ => None,
    }
}

/// Resolved 4-state parameters (fractions) p13, p31, p32, p23, p14 with netem's defaults.
pub fn four_state_params(loss: &Loss) -> Option<[f64; 5]> {
    match loss {
        Loss::State { p13, p31, p32, p23, p14 } => {
            let p13 = p13.fraction();
            let p31 = p31.map(Percent::fraction).unwrap_or(1.0 - p13);
            Some([p13, p31, p32.fraction(), p23.fraction(), p14.fraction()])
        }
        _ => None,
    }
}

impl LossProcess {
    pub fn new(loss: &Loss) -> LossProcess {
        match loss {
            Loss::Random { percent, correlation_percent } => {
                LossProcess::Random { p: percent.fraction(), rho: correlation_percent.fraction(), last: None }
            }
            Loss::Gemodel { .. } => {
                let (p, r, h1, k1) = gilbert_params(loss).unwrap_or_default();
                LossProcess::Gilbert { p, r, loss_in_bad: h1, loss_in_good: k1, bad: false }
            }
            Loss::State { .. } => {
                let [p13, p31, p32, p23, p14] = four_state_params(loss).unwrap_or_default();
                LossProcess::FourState { p13, p31, p32, p23, p14, state: FourStates::Gap }
            }
            Loss::Trace { drops, .. } => LossProcess::Trace { drops: drops.as_slice().into(), pos: 0 },
            Loss::Blackout => LossProcess::Blackout,
        }
    }

    /// True when loss is configured at all (a zero-percent random model is a no-op).
    pub fn is_active(&self) -> bool {
        !matches!(self, LossProcess::Random { p, .. } if *p == 0.0)
    }

    /// Decides the fate of the next packet.
    pub fn lose(&mut self, rng: &mut Stream) -> bool {
        match self {
            LossProcess::Random { p, rho, last } => {
                let lost = match *last {
                    Some(prev) if rng.chance(*rho) => prev,
                    _ => rng.chance(*p),
                };
                *last = Some(lost);
                lost
            }
            LossProcess::Gilbert { p, r, loss_in_bad, loss_in_good, bad } => {
                let lost = rng.chance(if *bad { *loss_in_bad } else { *loss_in_good });
                let u = rng.uniform();
                *bad = if *bad { u >= *r } else { u < *p };
                lost
            }
            LossProcess::FourState { p13, p31, p32, p23, p14, state } => {
                let u = rng.uniform();
                *state = match *state {
                    FourStates::Gap if u < *p14 => FourStates::Isolated,
                    FourStates::Gap if u < *p14 + *p13 => FourStates::BurstLoss,
                    FourStates::Gap => FourStates::Gap,
                    FourStates::BurstGood if u < *p23 => FourStates::BurstLoss,
                    FourStates::BurstGood => FourStates::BurstGood,
                    FourStates::BurstLoss if u < *p32 => FourStates::BurstGood,
                    FourStates::BurstLoss if u < *p32 + *p31 => FourStates::Gap,
                    FourStates::BurstLoss => FourStates::BurstLoss,
                    FourStates::Isolated => FourStates::Gap,
                };
                matches!(*state, FourStates::BurstLoss | FourStates::Isolated)
            }
            LossProcess::Trace { drops, pos } => {
                let lost = drops[*pos];
                *pos = (*pos + 1) % drops.len();
                lost
            }
            LossProcess::Blackout => true,
        }
    }
}
