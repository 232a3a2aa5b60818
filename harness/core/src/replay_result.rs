//! `replay.json`: one RTP stream of a capture played through a preset's jitter buffer and
//! decoder, as `neteq_rtpplay` does. What needs something the capture lacks (send times, the
//! audio that was sent) is `null`, and `unavailable` says why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jitter_buffer::{JbPoint, JitterBufferStats};

/// Where the replayed payloads came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum PayloadSource {
    /// The captured packets as they are (plain RTP).
    Capture,
    /// The sender's plaintext record (rtpdump), matched by SSRC and sequence number.
    Record { file: String },
    /// A clip encoded with the preset, frame by frame at each packet's RTP timestamp.
    Replacement { clip: String },
}

/// What the capture held of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamCounters {
    /// Copies captured (duplicates included).
    pub packets: u64,
    /// Copies whose UDP checksum failed: corrupted on the way, dropped as a receiver would.
    pub corrupted: u64,
    /// Copies without a payload to play (not in the sender's record).
    pub without_payload: u64,
    /// Sequence numbers from the first to the last seen, and how many of them never arrived.
    pub expected: u64,
    pub lost: u64,
}

/// One replayed stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayResult {
    pub schema_version: u32,
    pub capture: String,
    pub ssrc: u32,
    pub preset: String,
    /// The buffer that played it ([`BUFFER_VERSION`](crate::jitter_buffer::BUFFER_VERSION)).
    pub jitter_buffer_version: String,
    pub payloads: PayloadSource,
    pub stream: StreamCounters,
    pub jitter_buffer: JitterBufferStats,
    /// (inserted + removed) / played samples, as getStats' counters define it.
    pub stretched_share: f64,
    /// Concealed samples that were not silent, over played samples.
    pub concealed_share: f64,
    /// Means over decoded samples (getStats' `jitterBufferTargetDelay` / `…Delay` over
    /// `jitterBufferEmittedCount`), and the 95th percentile of the target over time, ms.
    pub target_delay_ms: f64,
    pub target_delay_p95_ms: f64,
    pub buffer_delay_ms: f64,
    pub stoi: Option<f64>,
    pub estoi: Option<f64>,
    pub mouth_to_ear_ms: Option<f64>,
    pub mouth_to_ear_p95_ms: Option<f64>,
    /// Why a field is `null`, by field name.
    pub unavailable: BTreeMap<String, String>,
    /// What a reader should know about the capture (checksums ignored, payloads missing).
    pub notes: Vec<String>,
    /// The buffer over time: target, filtered level, concealment and stretching per step.
    pub timeline: Vec<JbPoint>,
}
