//! The result schema shared by every backend (`results.json`).

use serde::{Deserialize, Serialize};

use crate::identity::{BackendKind, Client};

/// Bumped when a field changes meaning or disappears; adding fields keeps the version.
/// 2: the jitter buffer follows NetEq, and its counters mean what getStats' do (delays booked
/// when a packet is decoded, comfort noise not concealment); `jitter_buffer` names it.
pub const SCHEMA_VERSION: u32 = 2;

/// Outcome of a scenario: ran, could not run here (with a reason), or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Ok,
    Unsupported {
        reason: String,
    },
    Error {
        reason: String,
    },
    /// Ran, but says nothing about the network: a live run on a host too loaded to keep
    /// time (the relay's timer lateness is in the reason).
    Invalid {
        reason: String,
    },
}

/// `results.json`: every scenario of a run. Run metadata (dates, hosts) lives in `run.json`,
/// so the same seed gives byte-identical results.
/// Version 1 files read as well: they have no `jitter_buffer`, which says their buffer is not
/// today's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results<S> {
    pub schema_version: u32,
    /// The caller's jitter buffer these results were made with
    /// ([`BUFFER_VERSION`](crate::jitter_buffer::BUFFER_VERSION)).
    #[serde(default)]
    pub jitter_buffer: Option<String>,
    pub scenarios: Vec<S>,
}

impl<S> Results<S> {
    pub fn new(scenarios: Vec<S>) -> Self {
        Results {
            schema_version: SCHEMA_VERSION,
            jitter_buffer: Some(crate::jitter_buffer::BUFFER_VERSION.to_string()),
            scenarios,
        }
    }
}

/// Path counters of one direction, as the impairment saw it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct NetworkCounters {
    pub packets_sent: u64,
    pub packets_delivered: u64,
    pub lost_loss_model: u64,
    pub lost_blackout: u64,
    pub lost_queue_overflow: u64,
    pub duplicates: u64,
    /// Copies with a flipped bit; the receiver drops them (SRTP authentication fails).
    pub corrupted: u64,
    /// Network loss (no copy delivered) over packets sent.
    pub loss_rate: f64,
    /// Mean run length of consecutive lost packets (0 when none was lost).
    pub mean_burst: f64,
}

/// Everything measured for one direction of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionResult {
    pub stoi: f64,
    pub estoi: f64,
    /// Mouth-to-ear delay from the audio: median over speech blocks of the block-wise
    /// cross-correlation lag (it drifts when the jitter buffer adapts).
    pub mouth_to_ear_ms: f64,
    /// 95th percentile of the same per-block delays.
    pub mouth_to_ear_p95_ms: f64,
    /// What the delay cannot go below: frame + codec lookahead + buffer floor + base delay.
    pub delay_floor_ms: f64,
    pub r_factor: f64,
    pub mos: f64,
    /// Concealed samples over samples played, silent concealment included (a muted dropout is
    /// still a dropout); DTX comfort noise is not concealment.
    pub concealment_ratio: f64,
    /// Frames missing at playout after FEC (network loss + late loss − FEC recoveries) / sent.
    pub effective_loss: f64,
    pub network: NetworkCounters,
    pub jitter_buffer: crate::jitter_buffer::JitterBufferStats,
}

/// One scenario of any backend: the unit of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// `profile/preset/clip/client/backend/seed`.
    pub id: String,
    pub profile: String,
    pub preset: String,
    pub clip: String,
    pub client: Client,
    pub backend: BackendKind,
    pub seed: u64,
    #[serde(flatten)]
    pub status: Status,
    /// Codec actually used (`audio/opus` …) with its RTP clock.
    pub codec: String,
    /// Length of the simulated call (the clip repeated), seconds.
    pub call_s: f64,
    /// Uplink (client → agent) and downlink (agent → client); absent when the scenario failed.
    pub uplink: Option<DirectionResult>,
    pub downlink: Option<DirectionResult>,
    /// What only a live call has: setup, candidates, turn-taking. Absent for simulations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveInfo>,
    /// What only a browser call has: the browser, what it negotiated, its getStats series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<BrowserInfo>,
}

/// A browser call's own record, as the page reported it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BrowserInfo {
    pub name: String,
    pub version: String,
    pub user_agent: String,
    /// `webaudio` (the clip injected through Web Audio) or `fake-capture` (Chromium's file).
    pub source: String,
    /// Whether RED was allowed in the offer (it muddies FEC comparisons, so off by default).
    pub red_allowed: bool,
    /// Codec, payload type, fmtp of offer and answer, RED, ptime — from the SDP.
    pub negotiated: serde_json::Value,
    /// `getUserMedia` track settings and whether echoCancellation, noiseSuppression and
    /// autoGainControl were honoured.
    pub capture_settings: serde_json::Value,
    pub constraints_ok: Option<bool>,
    /// The selected candidate pair: local/remote types, protocol, relay protocol.
    pub selected_pair: serde_json::Value,
    /// getStats samples over the call (inbound-rtp, outbound-rtp, candidate-pair fields).
    pub stats: Vec<serde_json::Value>,
    /// Driver start → quit, per step, ms.
    pub cycle_ms: serde_json::Value,
}

/// Live-call measurements (the design report's table 10 KPIs that the simulator cannot see, and the
/// turn-taking a voice agent is judged by).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LiveInfo {
    /// Offer created → connected, ms.
    pub setup_ms: Option<f64>,
    /// The client's side of the selected pair: `host`, `srflx`, `prflx` or `relay`.
    pub candidate_type: Option<String>,
    pub turn_used: bool,
    /// Times the connection left `connected` during the call.
    pub disconnects: u64,
    /// RTP one-way transit (sender's write → receiver's read, through the relay), median and
    /// 95th percentile per direction, ms: the network as the endpoints saw it.
    pub transit_uplink_ms: Option<Percentiles>,
    pub transit_downlink_ms: Option<Percentiles>,
    /// Per answered turn: the user's last speech sample sent → the agent's first speech
    /// sample heard, ms.
    pub voice_to_voice_ms: Vec<f64>,
    pub voice_to_voice_median_ms: Option<f64>,
    pub turns: u64,
    pub turns_answered: u64,
    pub false_end_of_turn: u64,
    pub barge_ins: u64,
    /// Mean measured stage times of the agent's pipeline, ms (design report table 5 stages).
    pub stages_ms: Option<StageTimes>,
    /// RTP packets the relay saw, per direction, and what the endpoints sent.
    pub relay_rtp_uplink: u64,
    pub relay_rtp_downlink: u64,
    pub client_rtp_sent: u64,
    pub agent_rtp_sent: u64,
    /// The relay's timer lateness at the 99th percentile, ms.
    pub relay_timer_late_p99_ms: f64,
}

/// Median and 95th percentile of a sample, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
}

impl Percentiles {
    /// `None` for an empty sample.
    pub fn of(values: &[f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Some(Percentiles { p50: q(0.5), p95: q(0.95) })
    }
}

/// Measured means of the latency-budget stages of one call, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct StageTimes {
    /// End of the user's speech → the turn declared over (the hangover).
    pub end_of_turn: f64,
    pub asr: f64,
    pub agent: f64,
    /// TTS start → first answer frame out.
    pub tts_first_audio: f64,
}

impl ScenarioResult {
    pub fn make_id(profile: &str, preset: &str, clip: &str, client: Client, backend: BackendKind, seed: u64) -> String {
        format!("{profile}/{preset}/{clip}/{client}/{backend}/{seed}")
    }
}
