//! What the agent recorded of a live call, read back for scoring: its trace (session clock,
//! jitter-buffer counters, turns with stage spans) and its recordings.

use std::path::{Path, PathBuf};

use jitterbug_core::agent_trace::AgentTrace;
use jitterbug_core::codec::Decoder;
use jitterbug_core::impairment::Direction;
use jitterbug_core::jitter_buffer::BLOCK;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{DirectionResult, LiveInfo, NetworkCounters, StageTimes};

use super::{DirectionInputs, direction};

/// Samples at 48 kHz in `ns` nanoseconds (0 for a negative span).
pub fn samples_48k(ns: i128) -> usize {
    (ns.max(0) as u128 * 48 / 1_000_000) as usize
}

pub struct AgentRecord<'a> {
    trace: &'a AgentTrace,
    dir: PathBuf,
}

impl<'a> AgentRecord<'a> {
    /// The session's trace and the directory its `--record-dir` recordings went to.
    pub fn new(trace: &'a AgentTrace, dir: &Path) -> AgentRecord<'a> {
        AgentRecord { trace, dir: dir.to_path_buf() }
    }

    /// What the agent decoded (uplink) or sent (downlink), 48 kHz, when it recorded it.
    pub fn recording(&self, which: Direction) -> Option<Vec<i16>> {
        let name = match which {
            Direction::Uplink => "uplink",
            Direction::Downlink => "downlink",
        };
        let audio = crate::wav::read(&self.dir.join(format!("{}.{name}.wav", self.trace.id))).ok()?;
        Some(crate::wav::to_i16(&audio.samples))
    }

    /// The uplink scored from the agent's recording against `reference` (what the caller sent,
    /// placed on the agent's clock), with the agent's jitter-buffer counters; also returns the
    /// recording as scored. `None` when the agent recorded nothing.
    pub fn score_uplink(
        &self,
        profile: &Profile,
        preset: &Preset,
        reference: &[i16],
        network: NetworkCounters,
    ) -> anyhow::Result<Option<(DirectionResult, Vec<i16>)>> {
        let Some(recorded) = self.recording(Direction::Uplink) else { return Ok(None) };
        // The recording starts with the agent's first 10 ms tick.
        let mut degraded = vec![0i16; BLOCK];
        degraded.extend_from_slice(&recorded);
        let codec = &preset.codec;
        let scored = direction(DirectionInputs {
            reference,
            degraded: &degraded,
            settings: codec,
            jitter_buffer: &preset.jitter_buffer,
            codec_delay_ms: Decoder::new(codec)?.algorithmic_delay_samples() as f64 / 48.0,
            base_delay_ms: profile.uplink.base.delay.ms.ms(),
            network,
            stats: self.trace.jitter_buffer,
        })?;
        Ok(Some((scored, degraded)))
    }

    /// The agent's side of the live record: turn counts, stage times and RTP sent.
    pub fn conversation(&self) -> LiveInfo {
        let c = &self.trace.conversation;
        LiveInfo {
            turns: c.turns,
            turns_answered: c.answers_completed,
            false_end_of_turn: c.false_end_of_turn,
            barge_ins: c.barge_ins,
            stages_ms: self.trace.mean_stage_ms().map(|[end_of_turn, asr, agent, tts_first_audio]| StageTimes {
                end_of_turn,
                asr,
                agent,
                tts_first_audio,
            }),
            agent_rtp_sent: self.trace.rtp_sent,
            ..LiveInfo::default()
        }
    }
}
