//! What the agent recorded of a live call, read back for scoring: its trace (session clock,
//! jitter-buffer counters, turns with stage spans) and its recordings. The native client's and
//! the browsers' calls are scored through this one reader, on the agent's session clock.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use jitterbug_core::codec::Decoder;
use jitterbug_core::jitter_buffer::{BLOCK, JitterBufferStats};
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{DirectionResult, LiveInfo, NetworkCounters, StageTimes};
use jitterbug_core::vad::{VAD_BLOCK, Vad, VadConfig};
use serde_json::Value;

use crate::sim::score;

/// Samples at 48 kHz in `ns` nanoseconds (0 for a negative span).
pub fn samples_48k(ns: i128) -> usize {
    (ns.max(0) as u128 * 48 / 1_000_000) as usize
}

/// Wall-clock time of the agent's session-clock zero.
pub fn epoch_unix_ns(trace: &Value) -> anyhow::Result<i128> {
    trace
        .get("epoch_unix_ns")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<i128>().ok())
        .ok_or_else(|| anyhow!("the agent's trace has no epoch_unix_ns"))
}

pub struct AgentRecord<'a> {
    trace: &'a Value,
    dir: PathBuf,
    session: String,
}

impl<'a> AgentRecord<'a> {
    /// The session's trace and the directory its `--record-dir` recordings went to.
    pub fn new(trace: &'a Value, dir: &Path) -> anyhow::Result<AgentRecord<'a>> {
        let session = trace.get("id").and_then(Value::as_str).ok_or_else(|| anyhow!("the agent's trace has no id"))?;
        Ok(AgentRecord { trace, dir: dir.to_path_buf(), session: session.to_owned() })
    }

    /// `uplink` (what the agent decoded) or `downlink` (what it sent), 48 kHz, when recorded.
    pub fn recording(&self, which: &str) -> Option<Vec<i16>> {
        let audio = crate::wav::read(&self.dir.join(format!("{}.{which}.wav", self.session))).ok()?;
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
        let Some(recorded) = self.recording("uplink") else { return Ok(None) };
        // The recording starts with the agent's first 10 ms tick.
        let mut degraded = vec![0i16; BLOCK];
        degraded.extend_from_slice(&recorded);
        let stats: JitterBufferStats =
            serde_json::from_value(self.trace.get("jitter_buffer").cloned().unwrap_or_default()).unwrap_or_default();
        let codec = &preset.codec;
        let scored = score::score(score::DirectionInputs {
            reference,
            degraded: &degraded,
            settings: codec,
            jitter_buffer: &preset.jitter_buffer,
            codec_delay_ms: Decoder::new(codec)?.algorithmic_delay_samples() as f64 / 48.0,
            base_delay_ms: profile.uplink.base.delay.ms.ms(),
            network,
            stats,
        })?;
        Ok(Some((scored, degraded)))
    }

    /// The agent's side of the live record: turn counts, stage times and RTP sent.
    pub fn conversation(&self) -> LiveInfo {
        let counters = self.trace.get("conversation");
        let count = |k: &str| counters.and_then(|c| c.get(k)).and_then(Value::as_u64).unwrap_or(0);
        LiveInfo {
            turns: count("turns"),
            turns_answered: count("answers_completed"),
            false_end_of_turn: count("false_end_of_turn"),
            barge_ins: count("barge_ins"),
            stages_ms: stage_times(self.trace),
            agent_rtp_sent: self.trace.get("rtp_sent").and_then(Value::as_u64).unwrap_or(0),
            ..LiveInfo::default()
        }
    }
}

/// Speech segments (start, end) of `pcm` in samples, by the shared VAD.
fn speech_segments(pcm: &[i16]) -> Vec<(usize, usize)> {
    let mut vad = Vad::new(VadConfig::default());
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for (k, block) in pcm.chunks_exact(VAD_BLOCK).enumerate() {
        let at = k * VAD_BLOCK;
        if vad.push(block) {
            current = Some(current.map_or((at, at + VAD_BLOCK), |(s, _)| (s, at + VAD_BLOCK)));
        } else if let Some((s, e)) = current
            && at - e >= 30 * VAD_BLOCK
        {
            // 300 ms of quiet closes a segment (pauses inside a sentence do not).
            out.push((s, e));
            current = None;
        }
    }
    out.extend(current);
    out
}

/// Per user turn: end of the user's speech (as sent) → onset of the next speech the user
/// heard, before the user's following turn; ms.
pub fn voice_to_voice(script: &[i16], offset_ns: i128, heard: &[i16]) -> Vec<f64> {
    let offset = samples_48k(offset_ns);
    let user = speech_segments(script);
    let agent = speech_segments(heard);
    let mut out = Vec::new();
    for (i, &(_, end)) in user.iter().enumerate() {
        let end = end + offset;
        let next_turn = user.get(i + 1).map_or(usize::MAX, |&(s, _)| s + offset);
        if let Some(&(onset, _)) = agent.iter().find(|&&(s, _)| s > end && s < next_turn) {
            out.push((onset - end) as f64 / 48.0);
        }
    }
    out
}

/// Mean stage times over the answered turns of the agent's trace.
fn stage_times(trace: &serde_json::Value) -> Option<StageTimes> {
    let turns = trace.get("turns")?.as_array()?;
    let f = |t: &serde_json::Value, path: &[&str]| path.iter().try_fold(t, |v, k| v.get(*k)).and_then(|v| v.as_f64());
    let mut sum = StageTimes::default();
    let mut n = 0.0;
    for t in turns {
        let (Some(speech_end), Some(eot), Some(asr_s), Some(asr_e), Some(ag_s), Some(ag_e), Some(tts_s), Some(first)) = (
            f(t, &["speech_end_ms"]),
            f(t, &["end_of_turn_ms"]),
            f(t, &["asr", "start_ms"]),
            f(t, &["asr", "end_ms"]),
            f(t, &["agent", "start_ms"]),
            f(t, &["agent", "end_ms"]),
            f(t, &["tts", "start_ms"]),
            f(t, &["first_audio_out_ms"]),
        ) else {
            continue;
        };
        sum.end_of_turn += eot - speech_end;
        sum.asr += asr_e - asr_s;
        sum.agent += ag_e - ag_s;
        sum.tts_first_audio += first - tts_s;
        n += 1.0;
    }
    (n > 0.0).then(|| StageTimes {
        end_of_turn: sum.end_of_turn / n,
        asr: sum.asr / n,
        agent: sum.agent / n,
        tts_first_audio: sum.tts_first_audio / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_to_voice_measures_from_speech_end_to_heard_onset() {
        let tone = |n: usize| (0..n).map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16).collect::<Vec<_>>();
        let mut script = tone(48_000);
        script.resize(48_000 * 4, 0);
        // Heard: silence, then the answer 900 ms after the user stopped (plus a 100 ms offset).
        let mut heard = vec![0i16; 48_000 + 48 * 1000];
        heard.extend(tone(48_000));
        let v = voice_to_voice(&script, 100_000_000, &heard);
        assert_eq!(v.len(), 1);
        assert!((v[0] - 900.0).abs() <= 20.0, "{v:?}");
    }
}
