//! A live call scored from both ends, on the agent's session clock (everything runs on one
//! host, so one wall clock maps the caller's timeline onto the agent's): the uplink is what the
//! caller sent against what the agent decoded; the downlink what the agent sent against what
//! the caller heard; voice-to-voice on the caller's own clock.

use jitterbug_core::agent_trace::AgentTrace;
use jitterbug_core::impairment::Direction;
use jitterbug_core::jitter_buffer::JitterBufferStats;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{LiveInfo, NetworkCounters, Percentiles, ScenarioResult};

use super::agent_record::{AgentRecord, samples_48k};
use super::{DirectionInputs, direction, voice_to_voice};

/// What a caller measured of a call that carried media, and where its audio sits on the
/// agent's clock.
#[derive(Debug, Clone)]
pub struct Heard {
    /// The agent's trace of the session (its clock, buffer, turns).
    pub trace: AgentTrace,
    /// What the user said and what the user heard, 48 kHz, each from its own start.
    pub sent: Vec<i16>,
    pub heard: Vec<i16>,
    /// When `sent[0]` and `heard[0]` happened, ns after the agent's session-clock zero.
    pub sent_at_ns: i128,
    pub heard_at_ns: i128,
    /// The caller's jitter buffer (ours replayed, or the browser's getStats), and its
    /// decoder's delay.
    pub downlink_stats: JitterBufferStats,
    pub codec_delay_ms: f64,
    pub setup_ms: Option<f64>,
    /// The caller's side of the selected pair: `host`, `srflx`, `prflx` or `relay`.
    pub candidate_type: Option<String>,
    pub disconnects: u64,
    /// RTP one-way transit per packet, ms, when the caller knows its packets' times.
    pub transit_uplink_ms: Vec<f64>,
    pub transit_downlink_ms: Vec<f64>,
    pub rtp_sent: u64,
}

/// What the path between them counted.
#[derive(Debug, Clone, Copy)]
pub struct PathCounts {
    pub rtp_uplink: NetworkCounters,
    pub rtp_downlink: NetworkCounters,
    pub rtp_distinct_uplink: u64,
    pub rtp_distinct_downlink: u64,
    pub timer_late_p99_ms: f64,
}

/// `pcm` placed `at_ns` after the agent's clock zero.
fn on_agent_clock(pcm: &[i16], at_ns: i128) -> Vec<i16> {
    let mut v = vec![0i16; samples_48k(at_ns)];
    v.extend_from_slice(pcm);
    v
}

/// Scores both directions and the live record into `result`; returns what the agent heard
/// (its uplink recording as scored), empty when it recorded nothing.
pub fn score(
    result: &mut ScenarioResult,
    profile: &Profile,
    preset: &Preset,
    record_dir: &std::path::Path,
    heard: &Heard,
    path: PathCounts,
) -> anyhow::Result<Vec<i16>> {
    let agent = AgentRecord::new(&heard.trace, record_dir);
    if let Some(reference) = agent.recording(Direction::Downlink) {
        result.downlink = Some(direction(DirectionInputs {
            reference: &reference,
            degraded: &on_agent_clock(&heard.heard, heard.heard_at_ns),
            settings: &preset.codec,
            jitter_buffer: &preset.jitter_buffer,
            codec_delay_ms: heard.codec_delay_ms,
            base_delay_ms: profile.downlink.base.delay.ms.ms(),
            network: path.rtp_downlink,
            stats: heard.downlink_stats,
        })?);
    }
    let mut uplink_audio = Vec::new();
    let reference = on_agent_clock(&heard.sent, heard.sent_at_ns);
    if let Some((up, recorded)) = agent.score_uplink(profile, preset, &reference, path.rtp_uplink)? {
        result.uplink = Some(up);
        uplink_audio = recorded;
    }
    let v2v = voice_to_voice::per_turn(&heard.sent, heard.sent_at_ns - heard.heard_at_ns, &heard.heard);
    result.live = Some(LiveInfo {
        setup_ms: heard.setup_ms,
        turn_used: heard.candidate_type.as_deref() == Some("relay"),
        candidate_type: heard.candidate_type.clone(),
        disconnects: heard.disconnects,
        transit_uplink_ms: Percentiles::of(&heard.transit_uplink_ms),
        transit_downlink_ms: Percentiles::of(&heard.transit_downlink_ms),
        voice_to_voice_median_ms: Percentiles::of(&v2v).map(|p| p.p50),
        voice_to_voice_ms: v2v,
        relay_rtp_uplink: path.rtp_distinct_uplink,
        relay_rtp_downlink: path.rtp_distinct_downlink,
        client_rtp_sent: heard.rtp_sent,
        relay_timer_late_p99_ms: path.timer_late_p99_ms,
        ..agent.conversation()
    });
    Ok(uplink_audio)
}
