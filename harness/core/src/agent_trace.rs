//! The agent's session trace: the contract between an agent and the harness that lets a call
//! be scored from both sides. The reference agent serves it at `GET /whip/<session>/trace`
//! (and writes it beside its recordings); the harness reads it to put the agent's clock, its
//! jitter buffer and its turns next to what the caller saw. Times are ms on the session clock,
//! whose zero is `epoch_unix_ns` in wall-clock time. A third-party agent that serves this
//! document gets two-sided scoring too.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::jitter_buffer::JitterBufferStats;

/// Bumped when a field changes meaning or disappears; adding fields keeps the version.
pub const TRACE_VERSION: u32 = 1;

/// One stage's run, ms on the session clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start_ms: f64,
    pub end_ms: f64,
}

/// Why an end of turn was false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FalseEndCause {
    /// Concealed (lost or late) audio fell in the pause.
    Concealment,
    /// A pause in the user's speech (or DTX) longer than the hangover.
    Pause,
}

/// One user turn and the agent's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub index: usize,
    pub speech_start_ms: f64,
    /// Last block classified as speech.
    pub speech_end_ms: f64,
    /// When the hangover expired and the turn was declared over.
    pub end_of_turn_ms: f64,
    pub asr: Span,
    pub agent: Span,
    /// From the TTS start to the last answer frame synthesised.
    pub tts: Span,
    /// First answer frame handed to the sender.
    pub first_audio_out_ms: Option<f64>,
    pub answer_ms: f64,
    pub false_end: Option<FalseEndCause>,
    /// Time from the user's speech onset over the answer to the agent stopping it.
    pub barge_in_stop_ms: Option<f64>,
    pub answered: bool,
}

/// Conversation counters for the trace and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationCounters {
    pub turns: u64,
    pub answers_started: u64,
    pub answers_completed: u64,
    pub false_end_of_turn: u64,
    pub false_end_concealment: u64,
    pub barge_ins: u64,
}

/// Per-stage latency budgets (design report table 5; the defaults sit at the low end of each
/// range).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageBudgets {
    pub asr: Duration,
    pub agent: Duration,
    pub tts: Duration,
}

impl Default for StageBudgets {
    fn default() -> Self {
        StageBudgets {
            asr: Duration::from_millis(100),
            agent: Duration::from_millis(100),
            tts: Duration::from_millis(80),
        }
    }
}

/// One session, as the agent saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentTrace {
    #[serde(default)]
    pub trace_version: u32,
    /// The session's id (its recordings are `<id>.uplink.wav`, `<id>.downlink.wav`).
    pub id: String,
    pub preset: String,
    /// Wall-clock time of the session clock's zero, ns since the Unix epoch (a decimal string:
    /// JSON numbers lose precision past 2^53).
    #[serde(with = "decimal")]
    pub epoch_unix_ns: u128,
    pub hangover_ms: f64,
    pub budgets: StageBudgets,
    /// Codec actually used (`audio/opus/48000`) and its payload type.
    pub codec: String,
    pub payload_type: u8,
    pub connection_states: Vec<(f64, String)>,
    pub connected_ms: Option<f64>,
    pub rtp_received: u64,
    pub rtp_sent: u64,
    /// First and last RTP arrival.
    pub first_rtp_ms: Option<f64>,
    pub last_rtp_ms: Option<f64>,
    /// Every RTP packet received: (sequence number, arrival).
    pub rtp_in: Vec<(u16, f64)>,
    /// Every RTP packet sent: (sequence number, send time).
    pub rtp_out: Vec<(u16, f64)>,
    pub jitter_buffer: JitterBufferStats,
    pub conversation: ConversationCounters,
    pub turns: Vec<Turn>,
    pub tick_late_max_ms: f64,
    /// Media ticks that missed their deadline by a whole tick (an audio device would underrun).
    pub ticks_missed: u64,
    pub closed_ms: Option<f64>,
}

impl AgentTrace {
    /// Mean stage times over the answered turns: end of turn (hangover), ASR, agent, TTS
    /// start → first audio.
    pub fn mean_stage_ms(&self) -> Option<[f64; 4]> {
        let done: Vec<[f64; 4]> = self
            .turns
            .iter()
            .filter_map(|t| {
                let first = t.first_audio_out_ms?;
                Some([
                    t.end_of_turn_ms - t.speech_end_ms,
                    t.asr.end_ms - t.asr.start_ms,
                    t.agent.end_ms - t.agent.start_ms,
                    first - t.tts.start_ms,
                ])
            })
            .collect();
        if done.is_empty() {
            return None;
        }
        let n = done.len() as f64;
        Some(std::array::from_fn(|k| done.iter().map(|d| d[k]).sum::<f64>() / n))
    }
}

mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("epoch_unix_ns: expected decimal nanoseconds, got {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_nanoseconds() {
        let t = AgentTrace { epoch_unix_ns: 1_764_633_600_123_456_789, id: "s1".into(), ..Default::default() };
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"epoch_unix_ns\":\"1764633600123456789\""), "{json}");
        assert_eq!(serde_json::from_str::<AgentTrace>(&json).unwrap(), t);
    }
}
