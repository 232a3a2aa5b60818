//! The native client as the caller: it offers, sends the simulator's RTP for the seed in real
//! time, and records what arrives; what the user heard is those arrivals played through the
//! shared jitter buffer afterwards (a sans-I/O core: replaying real arrival times gives what a
//! live playout would have).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use jitterbug_core::agent_trace::AgentTrace;
use jitterbug_core::codec::Decoder;
use jitterbug_core::preset::Preset;
use jitterbug_core::results::Status;
use jitterbug_core::rng::{Stream, StreamId};
use jitterbug_core::time::Timestamp;

use super::{CallerOutcome, CallerRecord, CallerResult};
use crate::clips::Clip;
use crate::live::client::{ClientOutcome, ClientPlan, NativeClient, TurnServer};
use crate::score::two_sided::Heard;
use crate::sim::encode_cache::EncodeCache;
use crate::sim::receiver::{self, Arrival};
use crate::sim::sender;
use crate::whip_client::WhipClient;

/// How the native client calls.
pub struct NativeCall<'a> {
    pub script: &'a Clip,
    pub preset: &'a Preset,
    pub seed: u64,
    pub turn: Option<TurnServer>,
    pub bind: SocketAddr,
}

fn unix_ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// Wall-clock time of an `Instant`, through a pair of readings taken now.
fn instant_unix_ns(i: Instant) -> i128 {
    let (now_i, now_s) = (Instant::now(), SystemTime::now());
    unix_ns(now_s) - now_i.saturating_duration_since(i).as_nanos() as i128
}

/// Runs the call. `splice` sees the agent's answer before the client does (the relay goes in
/// there for an agent whose address only its answer tells). Errors before the call could
/// start are errors; everything after is measured.
pub async fn call(
    c: NativeCall<'_>,
    whip: &WhipClient,
    splice: impl AsyncFnOnce(String) -> anyhow::Result<String>,
) -> anyhow::Result<CallerOutcome> {
    let codec = &c.preset.codec;
    let tail_frames = 1000 / codec.frame_ms.millis() as usize;
    let frames = EncodeCache::default().get(c.script, codec, tail_frames)?;
    let plan = ClientPlan {
        codec: codec.clone(),
        ssrc: Stream::new(c.seed, 1, StreamId::Media).next_u64() as u32,
        media: sender::packetize(&frames, codec, c.seed, 1),
        tail: Duration::from_millis(600),
        turn: c.turn.clone(),
        bind: c.bind,
        connect_deadline: Duration::from_secs(20),
    };
    let (client, offer) = NativeClient::offer(plan).await?;
    let answer = whip.post_offer(&offer).await?;
    let answer_sdp = splice(answer.sdp.clone()).await?;
    let outcome = client.run(&answer_sdp).await;
    let trace = whip.get_trace(&answer.location).await.ok();
    let _ = whip.delete(&answer.location).await;
    let client = match outcome {
        Ok(c) => c,
        Err(e) => {
            let status = Status::Error { reason: format!("{e:#}") };
            return Ok(CallerOutcome::failed(status, trace, CallerRecord::Native(ClientOutcome::default()), None));
        }
    };
    let result = match trace {
        None => CallerResult::Failed {
            status: Status::Error { reason: "the agent served no trace of the session".into() },
            trace: None,
        },
        Some(trace) => match heard(&c, &trace, &client) {
            Ok(h) => CallerResult::Heard(Box::new(h)),
            Err(e) => CallerResult::Failed {
                status: Status::Error { reason: format!("{e:#}") },
                trace: Some(Box::new(trace)),
            },
        },
    };
    Ok(CallerOutcome { result, record: CallerRecord::Native(client), browser: None })
}

/// The client's record on the agent's clock: what the user heard played through the preset's
/// jitter buffer from the real arrival times.
fn heard(c: &NativeCall<'_>, trace: &AgentTrace, client: &ClientOutcome) -> anyhow::Result<Heard> {
    let codec = &c.preset.codec;
    let epoch = trace.epoch_unix_ns as i128;
    let media_start = client.media_start.ok_or_else(|| anyhow!("never connected"))?;
    let at_agent = |i: Instant| Timestamp::from_nanos((instant_unix_ns(i) - epoch).max(0) as u64);
    let arrivals: Vec<Arrival> = client
        .received
        .iter()
        .enumerate()
        .map(|(index, (at, bytes))| Arrival { at: at_agent(*at), bytes: bytes.clone(), index, corrupted: false })
        .collect();
    let until = arrivals.last().map(|a| a.at).unwrap_or_default() + Duration::from_secs(1);
    let played =
        receiver::receive(&arrivals, c.preset.jitter_buffer, codec.rtp_clock_rate(), Decoder::new(codec)?, until);
    let (transit_uplink_ms, transit_downlink_ms) = transit(trace, epoch, client);
    Ok(Heard {
        sent: c.script.pcm.to_vec(),
        sent_at_ns: instant_unix_ns(media_start) - epoch,
        heard: played.pcm,
        heard_at_ns: 0,
        downlink_stats: played.stats,
        codec_delay_ms: played.codec_delay_ms,
        setup_ms: client.setup_ms,
        candidate_type: client.selected_local_candidate_type.clone(),
        disconnects: client.disconnects,
        transit_uplink_ms,
        transit_downlink_ms,
        rtp_sent: client.rtp_sent,
        trace: trace.clone(),
    })
}

/// RTP one-way transit per packet, ms, both directions: matched by sequence number between
/// the client's send/receive times and the agent's trace (one host, one clock).
fn transit(trace: &AgentTrace, epoch: i128, client: &ClientOutcome) -> (Vec<f64>, Vec<f64>) {
    let by_seq = |v: &[(u16, f64)]| v.iter().copied().collect::<HashMap<u16, f64>>();
    let (agent_in, agent_out) = (by_seq(&trace.rtp_in), by_seq(&trace.rtp_out));
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
