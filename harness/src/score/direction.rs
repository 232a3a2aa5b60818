//! Scoring one direction: what the listener heard against what was said — the same for every
//! backend and caller.

use jitterbug_core::codec::{Codec, CodecSettings};
use jitterbug_core::jitter_buffer::{JitterBufferConfig, JitterBufferStats};
use jitterbug_core::metrics::{self, alignment, emodel, stoi};
use jitterbug_core::results::{DirectionResult, NetworkCounters};

use crate::wav::to_f32;

/// Longest mouth-to-ear delay searched for.
const MAX_DELAY_S: f64 = 3.0;

/// Inputs of one direction's score.
pub struct DirectionInputs<'a> {
    pub reference: &'a [i16],
    pub degraded: &'a [i16],
    pub settings: &'a CodecSettings,
    pub jitter_buffer: &'a JitterBufferConfig,
    pub codec_delay_ms: f64,
    pub base_delay_ms: f64,
    pub network: NetworkCounters,
    pub stats: JitterBufferStats,
}

/// What a listener heard against what was said, both 48 kHz from the same time zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intelligibility {
    pub stoi: f64,
    pub estoi: f64,
    /// Median and 95th percentile of the block-wise lag of `degraded` behind `reference`.
    pub lag_ms: f64,
    pub lag_p95_ms: f64,
}

/// STOI/ESTOI on the block-wise re-timed signal, and the lag (mouth-to-ear when both start at
/// the call's zero).
pub fn intelligibility(reference: &[i16], degraded: &[i16]) -> Result<Intelligibility, metrics::MetricError> {
    let (reference, degraded) = (to_f32(reference), to_f32(degraded));
    let a = alignment::align_blockwise(&reference, &degraded, 48_000, MAX_DELAY_S)?;
    let scores = stoi::Stoi::new(48_000)?.scores(&a.reference, &a.degraded)?;
    Ok(Intelligibility {
        stoi: scores.stoi,
        estoi: scores.estoi,
        lag_ms: a.delay_percentile_ms(0.5).unwrap_or(f64::NAN),
        lag_p95_ms: a.delay_percentile_ms(0.95).unwrap_or(f64::NAN),
    })
}

pub fn direction(i: DirectionInputs<'_>) -> Result<DirectionResult, metrics::MetricError> {
    let h = intelligibility(i.reference, i.degraded)?;
    let (mouth_to_ear_ms, mouth_to_ear_p95_ms) = (h.lag_ms, h.lag_p95_ms);

    let frame_ms = f64::from(i.settings.frame_ms.millis());
    // An adaptive buffer's minimum delay is a target it steers to, not a floor: like NetEq it
    // plays below it when a talkspurt starts after DTX or playout resumes after an underrun.
    let buffer_floor_ms = match *i.jitter_buffer {
        JitterBufferConfig::Fixed { delay_ms } => delay_ms,
        JitterBufferConfig::Adaptive { .. } => 0.0,
    };
    let delay_floor_ms = frame_ms + i.codec_delay_ms + buffer_floor_ms + i.base_delay_ms;

    let n = &i.network;
    let lost = n.packets_sent - n.packets_delivered + i.stats.packets_late;
    let effective_loss = metrics::effective_loss(lost, i.stats.fec_recovered, n.packets_sent);
    // The codec constants were fitted against network loss with FEC decoding in place, so the
    // E-model takes the loss before FEC (network + late) and the FEC variant's Ie/Bpl.
    let input = emodel::EModelInput::new(
        &codec_impairment(i.settings),
        mouth_to_ear_ms,
        lost as f64 / n.packets_sent.max(1) as f64 * 100.0,
        if n.mean_burst > 0.0 { emodel::burst_ratio(n.loss_rate, n.mean_burst) } else { 1.0 },
    );
    let r_factor = emodel::r_factor(&input);
    Ok(DirectionResult {
        stoi: h.stoi,
        estoi: h.estoi,
        mouth_to_ear_ms,
        mouth_to_ear_p95_ms,
        delay_floor_ms,
        r_factor,
        mos: emodel::mos_from_r(r_factor),
        concealment_ratio: metrics::concealment_ratio(i.stats.concealed_samples, i.stats.total_samples_received),
        effective_loss,
        network: i.network,
        jitter_buffer: i.stats,
    })
}

/// E-model constants for the preset's codec: ITU values for G.711, fitted ones for Opus
/// (nearest fitted bitrate; FEC variants only where libopus emits FEC, from 24 kbit/s).
fn codec_impairment(s: &CodecSettings) -> emodel::CodecImpairment {
    match s.codec {
        Codec::Pcmu | Codec::Pcma => emodel::G711_PLC,
        Codec::Opus => match (s.bitrate_bps, s.fec) {
            (b, _) if b < 20_000 => emodel::OPUS_16K_PLC,
            (b, true) if b < 28_000 => emodel::OPUS_24K_FEC,
            (b, false) if b < 28_000 => emodel::OPUS_24K_PLC,
            (_, true) => emodel::OPUS_32K_FEC,
            (_, false) => emodel::OPUS_32K_PLC,
        },
    }
}
