//! One live call: the reference agent (in-process, or any WHIP agent by URL), the impairment
//! relay in front of it, coturn when the profile needs TURN, and the native client — then the
//! same scoring as the simulator, on timelines lined up through the wall clock (everything
//! runs on one host).
//!
//! The user's side of the call is a conversation script: the clip, then silence long enough
//! for the agent to answer, repeated ([`conversation_script`]). The simulator can run the
//! same script, which is how live and simulated uplinks are compared.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use jitterbug_agent::{AgentConfig, Behaviour};
use jitterbug_core::codec::Decoder;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::{Profile, TurnTransport};
use jitterbug_core::results::{LiveInfo, Percentiles, ScenarioResult, Status};
use jitterbug_core::rng::{Stream, StreamId};
use jitterbug_core::time::Timestamp;

use super::agent_record::{self, AgentRecord, samples_48k, voice_to_voice};
use super::client::{ClientOutcome, ClientPlan, NativeClient};
use super::coturn::Coturn;
use super::relay::{Relay, RelayConfig, RelayReport};
use super::whip_client::{Trust, WhipClient};
use crate::clips::{Clip, RATE};
use crate::sim::encode_cache::EncodeCache;
use crate::sim::receiver::Arrival;
use crate::sim::{Scenario, receiver, score, sender};

/// The relay listens here (the agent advertises it, port preserved).
pub const RELAY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The relay's upstream sockets (the client NAT's public side) bind here.
pub const RELAY_UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// Backend name in result ids.
pub const BACKEND: &str = "live";

/// Where the agent is.
pub enum AgentTarget {
    /// Start the reference agent in this process with the scenario's preset.
    InProcess,
    /// A running WHIP agent; the relay is spliced in by rewriting the answer's candidates.
    /// Its recordings (`--record-dir` on the same host) let both directions be scored.
    Remote { url: String, token: String, trust: Trust, recordings: Option<PathBuf> },
}

/// The network between the client and the agent.
pub enum NetworkPath {
    /// The userspace impairment relay on loopback, started and stopped by the call.
    Relay,
    /// A path run by someone else (the netns router): the client reaches the agent's own
    /// candidate from `client_bind`, and `finish` stops the path and says what it saw.
    External(ExternalPath),
}

pub struct ExternalPath {
    /// The backend named in the result (`netns`).
    pub backend: &'static str,
    pub client_bind: SocketAddr,
    pub finish: Box<dyn FnOnce() -> anyhow::Result<RelayReport> + Send>,
}

/// The path of a call in progress.
enum ActivePath {
    Relay(Relay),
    External(ExternalPath),
}

pub struct CallSpec<'a> {
    pub profile: &'a Profile,
    pub preset: &'a Preset,
    /// The user's line; the call repeats it with room for answers.
    pub clip: &'a Clip,
    pub seed: u64,
    pub call_seconds: f64,
    pub agent: AgentTarget,
    pub path: NetworkPath,
}

/// Everything one call produced.
pub struct CallOutput {
    pub result: ScenarioResult,
    pub relay: RelayReport,
    pub client: ClientOutcome,
    /// The agent's session trace (stage timings, jitter-buffer counters).
    pub trace: serde_json::Value,
    /// What the agent heard and what the user heard, on the agent's session clock (48 kHz).
    pub uplink_audio: Vec<i16>,
    pub downlink_audio: Vec<i16>,
    /// The script the user spoke.
    pub script: Clip,
}

/// The user's side of a call: `clip`, then silence as long as the clip plus two seconds (the
/// echo agent's hangover, stages and answer fit), repeated to at least `seconds`.
pub fn conversation_script(clip: &Clip, seconds: f64) -> Clip {
    let gap = clip.pcm.len() + 2 * RATE as usize;
    let cycle = clip.pcm.len() + gap;
    let reps = ((seconds * f64::from(RATE)) as usize).div_ceil(cycle).max(1);
    let mut pcm = Vec::with_capacity(reps * cycle);
    for _ in 0..reps {
        pcm.extend_from_slice(&clip.pcm);
        pcm.resize(pcm.len() + gap, 0);
    }
    Clip { name: clip.name.clone(), pcm: Arc::new(pcm) }
}

fn unix_ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// Wall-clock time of an `Instant`, through a pair of readings taken now.
fn instant_unix_ns(i: Instant) -> i128 {
    let (now_i, now_s) = (Instant::now(), SystemTime::now());
    unix_ns(now_s) - now_i.saturating_duration_since(i).as_nanos() as i128
}

/// Runs one call. Errors before the call connects are errors; everything after is measured.
pub async fn call(spec: CallSpec<'_>, scratch: &Path) -> anyhow::Result<CallOutput> {
    let script = conversation_script(spec.clip, spec.call_seconds);
    let scenario = Scenario { profile: spec.profile, preset: spec.preset, clip: &script, seed: spec.seed };
    let (external, client_bind) = match spec.path {
        NetworkPath::Relay => (None, SocketAddr::from(([127, 0, 0, 1], 0))),
        NetworkPath::External(p) => {
            let bind = p.client_bind;
            (Some(p), bind)
        }
    };
    let backend = external.as_ref().map_or(BACKEND, |p| p.backend);
    let mut result = scenario.blank_result(backend);
    result.id =
        ScenarioResult::make_id(&spec.profile.name, &spec.preset.name, &spec.clip.name, "native", backend, spec.seed);
    let codec = &spec.preset.codec;

    // The agent.
    let mut record_dir = scratch.join("agent");
    let mut in_process = None;
    let (whip, advertised_relay) = match &spec.agent {
        AgentTarget::InProcess => {
            let mut config = AgentConfig::loopback(spec.preset.clone(), random_token(spec.seed));
            config.advertise_ip = Some(IpAddr::V4(RELAY_IP));
            config.record_dir = Some(record_dir.clone());
            config.behaviour = Behaviour::Echo;
            let agent = jitterbug_agent::serve(config.clone()).await.context("starting the reference agent")?;
            let ca = agent.ca_pem().map(str::to_owned).ok_or_else(|| anyhow!("agent has no CA"))?;
            let whip = WhipClient::new(&agent.url(), &config.token, Trust::CaPem(ca))?;
            in_process = Some(agent);
            (whip, true)
        }
        AgentTarget::Remote { url, token, trust, recordings } => {
            if let Some(dir) = recordings {
                record_dir.clone_from(dir);
            }
            (WhipClient::new(url, token, trust.clone())?, false)
        }
    };

    let coturn = match spec.profile.nat.turn {
        TurnTransport::None => None,
        TurnTransport::Udp => Some(Coturn::start()?),
        other => bail!(
            "profile {}: TURN over {other:?} needs a browser's TURN client (the native client's TURN is UDP)",
            spec.profile.name
        ),
    };

    // The client's media: the simulator's uplink packets for this seed.
    let tail_frames = 1000 / codec.frame_ms.millis() as usize;
    let frames = EncodeCache::default().get(&script, codec, tail_frames)?;
    let media = sender::packetize(&frames, codec, spec.seed, 1);
    let ssrc = Stream::new(spec.seed, 1, StreamId::Media).next_u64() as u32;
    let plan = ClientPlan {
        codec: codec.clone(),
        ssrc,
        media,
        tail: Duration::from_millis(600),
        turn: coturn.as_ref().map(|c| c.server.clone()),
        bind: client_bind,
        connect_deadline: Duration::from_secs(20),
    };
    let (client, offer) = NativeClient::offer(plan).await?;
    let answer = whip.post_offer(&offer).await?;
    let (agent_addr, answer_sdp) = candidate_address(&answer.sdp)?;
    let (path, answer_sdp) = match external {
        Some(path) => (ActivePath::External(path), answer_sdp),
        None => {
            let (listen, upstream) = if advertised_relay {
                (agent_addr, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), agent_addr.port()))
            } else {
                (SocketAddr::new(IpAddr::V4(RELAY_IP), 0), agent_addr)
            };
            let relay = Relay::start(RelayConfig {
                listen,
                upstream,
                upstream_ip: IpAddr::V4(RELAY_UPSTREAM_IP),
                profile: spec.profile.clone(),
                seed: spec.seed,
            })
            .await
            .with_context(|| format!("starting the relay on {listen}"))?;
            let sdp =
                if advertised_relay { answer_sdp } else { rewrite_candidates(&answer_sdp, agent_addr, relay.listen) };
            (ActivePath::Relay(relay), sdp)
        }
    };

    let outcome = client.run(&answer_sdp).await;
    let trace = whip.get_trace(&answer.location).await.unwrap_or(serde_json::Value::Null);
    let _ = whip.delete(&answer.location).await;
    let relay_report = match path {
        ActivePath::Relay(relay) => relay.finish().await,
        ActivePath::External(path) => (path.finish)()?,
    };
    if let Some(agent) = in_process {
        agent.shutdown().await;
    }
    drop(coturn);
    let client = match outcome {
        Ok(c) => c,
        Err(e) => {
            result.status = Status::Error { reason: format!("{e:#}") };
            return Ok(CallOutput {
                result,
                relay: relay_report,
                client: ClientOutcome::default(),
                trace,
                uplink_audio: Vec::new(),
                downlink_audio: Vec::new(),
                script,
            });
        }
    };

    // Timelines: everything on the agent's session clock.
    let epoch = agent_record::epoch_unix_ns(&trace)?;
    let media_start = client.media_start.ok_or_else(|| anyhow!("never connected"))?;
    let offset_ns = instant_unix_ns(media_start) - epoch;
    let at_agent = |i: Instant| Timestamp::from_nanos((instant_unix_ns(i) - epoch).max(0) as u64);

    // Downlink: what the user heard, played through the shared jitter buffer from the real
    // arrival times, against what the agent sent.
    let arrivals: Vec<Arrival> = client
        .received
        .iter()
        .enumerate()
        .map(|(index, (at, bytes))| Arrival { at: at_agent(*at), bytes: bytes.clone(), index, corrupted: false })
        .collect();
    let until = arrivals.last().map(|a| a.at).unwrap_or_default() + Duration::from_secs(1);
    let heard = receiver::receive(
        &arrivals,
        spec.preset.jitter_buffer,
        codec.rtp_clock_rate(),
        codec.fec,
        Decoder::new(codec)?,
        until,
    );
    let agent = AgentRecord::new(&trace, &record_dir)?;
    if let Some(reference) = agent.recording("downlink") {
        result.downlink = Some(score::score(score::DirectionInputs {
            reference: &reference,
            degraded: &heard.pcm,
            settings: codec,
            jitter_buffer: &spec.preset.jitter_buffer,
            codec_delay_ms: heard.codec_delay_ms,
            base_delay_ms: spec.profile.downlink.base.delay.ms.ms(),
            network: relay_report.rtp_downlink,
            stats: heard.stats,
        })?);
    }
    // Uplink: what the agent decoded against the script as sent.
    let mut uplink_audio = Vec::new();
    let mut reference = vec![0i16; samples_48k(offset_ns)];
    reference.extend_from_slice(&script.pcm);
    if let Some((up, recorded)) = agent.score_uplink(spec.profile, spec.preset, &reference, relay_report.rtp_uplink)? {
        result.uplink = Some(up);
        uplink_audio = recorded;
    }

    let v2v = voice_to_voice(&script.pcm, offset_ns, &heard.pcm);
    let (transit_up, transit_down) = transit(&trace, epoch, &client);
    result.live = Some(LiveInfo {
        setup_ms: client.setup_ms,
        candidate_type: client.selected_local_candidate_type.clone(),
        turn_used: client.selected_local_candidate_type.as_deref() == Some("relay"),
        disconnects: client.disconnects,
        transit_uplink_ms: Percentiles::of(&transit_up),
        transit_downlink_ms: Percentiles::of(&transit_down),
        voice_to_voice_median_ms: Percentiles::of(&v2v).map(|p| p.p50),
        voice_to_voice_ms: v2v,
        relay_rtp_uplink: relay_report.rtp_distinct_uplink,
        relay_rtp_downlink: relay_report.rtp_distinct_downlink,
        client_rtp_sent: client.rtp_sent,
        relay_timer_late_p99_ms: relay_report.timer.late_p99_ms,
        ..agent.conversation()
    });
    if let Some(reason) = &relay_report.timer.invalid {
        result.status = Status::Invalid { reason: reason.clone() };
    }
    Ok(CallOutput { result, relay: relay_report, client, trace, uplink_audio, downlink_audio: heard.pcm, script })
}

fn random_token(seed: u64) -> String {
    let mut s = Stream::new(seed ^ unix_ns(SystemTime::now()) as u64, 9, StreamId::Media);
    format!("{:016x}{:016x}", s.next_u64(), s.next_u64())
}

/// The first UDP host candidate's address in an answer, and the answer.
fn candidate_address(sdp: &str) -> anyhow::Result<(SocketAddr, String)> {
    for line in sdp.lines() {
        let Some(c) = line.strip_prefix("a=candidate:") else { continue };
        let f: Vec<&str> = c.split_whitespace().collect();
        if f.len() >= 8 && f[2].eq_ignore_ascii_case("udp") {
            let ip: IpAddr = f[4].parse().with_context(|| format!("answer candidate address `{}`", f[4]))?;
            let port: u16 = f[5].parse().with_context(|| format!("answer candidate port `{}`", f[5]))?;
            return Ok((SocketAddr::new(ip, port), sdp.to_owned()));
        }
    }
    bail!("the agent's answer has no UDP candidate (a=candidate: … udp …)")
}

/// Points the answer's candidates at the relay.
fn rewrite_candidates(sdp: &str, from: SocketAddr, to: SocketAddr) -> String {
    let old = format!(" {} {} ", from.ip(), from.port());
    let new = format!(" {} {} ", to.ip(), to.port());
    sdp.lines()
        .map(|l| if l.starts_with("a=candidate:") { l.replace(&old, &new) } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n"
}

/// RTP one-way transit per packet, ms, both directions: matched by sequence number between
/// the client's send/receive times and the agent's trace (one host, one clock).
fn transit(trace: &serde_json::Value, epoch: i128, client: &ClientOutcome) -> (Vec<f64>, Vec<f64>) {
    let pairs = |key: &str| -> std::collections::HashMap<u16, f64> {
        trace
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|p| Some((p.get(0)?.as_u64()? as u16, p.get(1)?.as_f64()?))).collect())
            .unwrap_or_default()
    };
    let (agent_in, agent_out) = (pairs("rtp_in"), pairs("rtp_out"));
    let agent_ms = |ms: f64| epoch as f64 / 1e6 + ms;
    let up = client
        .sent
        .iter()
        .filter_map(|&(seq, at)| Some(agent_ms(*agent_in.get(&seq)?) - instant_unix_ns(at) as f64 / 1e6))
        .collect();
    let down = client
        .received
        .iter()
        .filter_map(|(at, bytes)| {
            let seq = u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]);
            Some(instant_unix_ns(*at) as f64 / 1e6 - agent_ms(*agent_out.get(&seq)?))
        })
        .collect();
    (up, down)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_rewritten_to_the_relay() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n";
        let (addr, _) = candidate_address(sdp).unwrap();
        assert_eq!(addr, "127.0.0.1:40000".parse::<SocketAddr>().unwrap());
        let out = rewrite_candidates(sdp, addr, "127.0.0.2:5000".parse().unwrap());
        assert!(out.contains("udp 2130706431 127.0.0.2 5000 typ host"), "{out}");
    }
}
