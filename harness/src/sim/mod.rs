pub mod encode_cache;
pub mod full_stack;
pub mod path;
pub mod receiver;
pub mod sender;

use std::net::SocketAddr;
use std::time::Duration;

use jitterbug_core::codec::Decoder;
use jitterbug_core::identity::BackendKind;
use jitterbug_core::impairment::Direction;
use jitterbug_core::jitter_buffer::JbPoint;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::{Delay, DirectionSpec, Distribution, Profile};
use jitterbug_core::results::{DirectionResult, ScenarioResult, Status};
use jitterbug_core::rtpdump::Rtpdump;

use crate::clips::Clip;
use crate::pcap::{self, Datagram};
use crate::scenario::Scenario;
use crate::score;
use encode_cache::EncodeCache;

/// Silence appended after the clip so the buffer drains and trailing speech is scored.
const TAIL: Duration = Duration::from_millis(1000);
/// Playout continues this long after the last packet arrived.
pub const DRAIN: Duration = Duration::from_millis(1000);

/// Default call length: long enough for the profiles' scheduled events (blackouts at 10 s,
/// handovers every 20 s, 4G fades at 20–25 s) to happen during the call.
pub const CALL_SECONDS: f64 = 30.0;

/// A scenario as the simulators play it: the clip repeated back to back to the call's length
/// (`Clip::as_call`), spoken by the user and echoed by the agent.
pub(crate) struct Played<'a> {
    pub profile: &'a Profile,
    pub preset: &'a Preset,
    pub clip: Clip,
    pub seed: u64,
    scenario: Scenario<'a>,
}

impl<'a> Played<'a> {
    pub fn of(s: &Scenario<'a>) -> Played<'a> {
        Played {
            profile: s.profile,
            preset: s.preset,
            clip: s.clip.as_call(s.call_seconds),
            seed: s.seed,
            scenario: *s,
        }
    }

    pub fn blank_result(&self, backend: BackendKind) -> ScenarioResult {
        self.scenario.blank_result(backend, self.clip.pcm.len() as f64 / f64::from(crate::clips::RATE))
    }
}

/// What a scenario produced.
pub struct SimOutput {
    pub result: ScenarioResult,
    /// What the agent heard (uplink) and what the user heard (downlink), 48 kHz.
    pub uplink_audio: Vec<i16>,
    pub downlink_audio: Vec<i16>,
    /// Every delivered copy in both directions, in arrival order, between the capture's
    /// documentation addresses.
    pub capture: Vec<Datagram>,
    /// What the client (uplink) and the agent (downlink) sent, on the capture's clock.
    pub uplink_sent: Rtpdump,
    pub downlink_sent: Rtpdump,
    /// The user's jitter buffer (downlink) over the call.
    pub downlink_timeline: Vec<JbPoint>,
}

/// Runs one scenario. Failures inside (a codec or metric error) become `status: error`.
pub fn run(s: &Scenario<'_>, cache: &EncodeCache) -> SimOutput {
    let s = &Played::of(s);
    let mut out = SimOutput {
        result: s.blank_result(BackendKind::Sim),
        uplink_audio: Vec::new(),
        downlink_audio: Vec::new(),
        capture: Vec::new(),
        uplink_sent: Rtpdump::new(pcap::EPOCH, pcap::CLIENT),
        downlink_sent: Rtpdump::new(pcap::EPOCH, pcap::AGENT),
        downlink_timeline: Vec::new(),
    };
    let dirs = [(Direction::Uplink, &s.profile.uplink), (Direction::Downlink, &s.profile.downlink)];
    for (dir, spec) in dirs {
        match direction(s, dir, spec, cache) {
            Ok(d) => {
                out.capture.extend(d.capture);
                let sent = d.sent.into_iter().map(|p| (p.at.saturating_since(Default::default()), p.bytes));
                match dir {
                    Direction::Uplink => {
                        out.result.uplink = Some(d.result);
                        out.uplink_audio = d.pcm;
                        sent.for_each(|(at, bytes)| out.uplink_sent.push(at, bytes));
                    }
                    Direction::Downlink => {
                        out.result.downlink = Some(d.result);
                        out.downlink_audio = d.pcm;
                        out.downlink_timeline = d.timeline;
                        sent.for_each(|(at, bytes)| out.downlink_sent.push(at, bytes));
                    }
                }
            }
            Err(e) => {
                out.result.status = Status::Error { reason: format!("{dir:?}: {e:#}").to_lowercase() };
                out.result.uplink = None;
                out.result.downlink = None;
                break;
            }
        }
    }
    out.capture.sort_by_key(|c| c.at);
    out
}

/// One direction of a simulated call.
struct DirectionOutput {
    result: DirectionResult,
    /// What the listener heard.
    pcm: Vec<i16>,
    /// The copies that arrived, and what was sent.
    capture: Vec<Datagram>,
    sent: Vec<sender::SentPacket>,
    /// The listener's buffer over time.
    timeline: Vec<JbPoint>,
}

fn direction(
    s: &Played<'_>,
    dir: Direction,
    spec: &DirectionSpec,
    cache: &EncodeCache,
) -> anyhow::Result<DirectionOutput> {
    let codec = &s.preset.codec;
    let frame = Duration::from_millis(u64::from(codec.frame_ms.millis()));
    let tail_frames = TAIL.as_millis().div_ceil(frame.as_millis()) as usize;
    let frames = cache.get(&s.clip, codec, tail_frames)?;
    let label = match dir {
        Direction::Uplink => 1,
        Direction::Downlink => 2,
    };
    let sent = sender::packetize(&frames, codec, s.seed, label);
    let (arrivals, network) = path::transmit(s.profile, s.seed, dir, &sent);
    let mut received = play(s, &sent, &arrivals)?;
    let result = score_direction(s, spec, &received, network)?;
    let (src, dst) = match dir {
        Direction::Uplink => (pcap::CLIENT, pcap::AGENT),
        Direction::Downlink => (pcap::AGENT, pcap::CLIENT),
    };
    let capture = arrivals
        .into_iter()
        .map(|a| Datagram {
            at: a.at.saturating_since(Default::default()),
            src: SocketAddr::V4(src),
            dst: SocketAddr::V4(dst),
            bytes: a.bytes,
            corrupted: a.corrupted,
        })
        .collect();
    Ok(DirectionOutput {
        result,
        pcm: std::mem::take(&mut received.pcm),
        capture,
        sent,
        timeline: std::mem::take(&mut received.timeline),
    })
}

/// What the receiver played from `arrivals` (copies of `sent`), with its decoder's delay.
pub(crate) fn play(
    s: &Played<'_>,
    sent: &[sender::SentPacket],
    arrivals: &[receiver::Arrival],
) -> anyhow::Result<receiver::Received> {
    let codec = &s.preset.codec;
    let last = arrivals.last().map(|a| a.at).into_iter().chain(sent.last().map(|p| p.at)).max().unwrap_or_default();
    let decoder = Decoder::new(codec)?;
    Ok(receiver::receive(arrivals, s.preset.jitter_buffer, codec.rtp_clock_rate(), decoder, last + DRAIN))
}

/// Scores what was played in one direction against the clip.
pub(crate) fn score_direction(
    s: &Played<'_>,
    spec: &DirectionSpec,
    received: &receiver::Received,
    network: jitterbug_core::results::NetworkCounters,
) -> anyhow::Result<DirectionResult> {
    Ok(score::direction(score::DirectionInputs {
        reference: &s.clip.pcm,
        degraded: &received.pcm,
        settings: &s.preset.codec,
        jitter_buffer: &s.preset.jitter_buffer,
        codec_delay_ms: received.codec_delay_ms,
        base_delay_ms: network_floor_ms(spec),
        network,
        stats: received.stats,
    })?)
}

/// The least one-way delay the profile allows (jittered delays can go down to zero, except
/// uniform jitter, which stays within ±jitter).
fn network_floor_ms(spec: &DirectionSpec) -> f64 {
    let floor = |d: &Delay| match d.distribution {
        _ if d.jitter_ms.ms() == 0.0 => d.ms.ms(),
        Distribution::Uniform => (d.ms.ms() - d.jitter_ms.ms()).max(0.0),
        _ => 0.0,
    };
    let reorder = spec.base.reorder.is_some_and(|r| r.percent.value() > 0.0);
    if reorder {
        return 0.0; // netem's reorder sends some packets without delay
    }
    std::iter::once(floor(&spec.base.delay))
        .chain(spec.schedule.iter().filter_map(|s| s.delay.as_ref().map(floor)))
        .fold(f64::INFINITY, f64::min)
}
