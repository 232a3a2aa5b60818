//! One browser call: a real browser (over WebDriver) runs the test page against the reference
//! agent, with the impairment relay in front of the agent exactly as for the native client,
//! and coturn (the browser's own TURN client) for TURN profiles. Scored with the same code as
//! every other backend, on the agent's session clock: the page reports when its capture
//! started in wall-clock time, the agent when its session clock started.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};
use jitterbug_agent::{AgentConfig, Behaviour};
use jitterbug_core::codec::Decoder;
use jitterbug_core::jitter_buffer::JitterBufferStats;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::{Profile, TurnTransport};
use jitterbug_core::results::{BrowserInfo, LiveInfo, Percentiles, ScenarioResult, Status};
use serde_json::Value;

use super::agent_record::{AgentRecord, epoch_unix_ns, samples_48k, voice_to_voice};
use super::call::{RELAY_IP, RELAY_UPSTREAM_IP};
use super::coturn::Coturn;
use super::relay::{Relay, RelayConfig, RelayReport};
use super::whip_client::{Trust, WhipClient};
use crate::browser::{Browser, CertTrust, IceServer, PageOutcome, PageRun, Source, run_page};
use crate::clips::Clip;
use crate::sim::{Scenario, score};

pub struct BrowserCallSpec<'a> {
    pub browser: Browser,
    /// An existing WebDriver endpoint (a Selenium Grid, safaridriver) instead of a local driver.
    pub webdriver: Option<String>,
    pub profile: &'a Profile,
    pub preset: &'a Preset,
    pub clip: &'a Clip,
    pub seed: u64,
    /// How long the page plays the clip (it loops in Web Audio only once: pad with silence).
    pub duration: Duration,
    pub source: Source,
    pub allow_red: bool,
}

pub struct BrowserCallOutput {
    pub result: ScenarioResult,
    pub relay: Option<RelayReport>,
    pub page: Option<PageOutcome>,
    pub trace: Value,
}

/// The user's line for a browser call: the clip, then silence for the agent's answer.
fn page_clip(clip: &Clip) -> Vec<i16> {
    let mut pcm = clip.pcm.to_vec();
    pcm.resize(pcm.len() + clip.pcm.len() + 2 * crate::clips::RATE as usize, 0);
    pcm
}

fn free_udp_port() -> anyhow::Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs one browser call; a browser that cannot make calls gives `status: unsupported`.
pub async fn browser_call(spec: BrowserCallSpec<'_>, scratch: &Path) -> anyhow::Result<BrowserCallOutput> {
    let user = page_clip(spec.clip);
    let script = Clip { name: spec.clip.name.clone(), pcm: std::sync::Arc::new(user.clone()) };
    let scenario = Scenario { profile: spec.profile, preset: spec.preset, clip: &script, seed: spec.seed };
    let mut result = scenario.blank_result("live");
    result.client = spec.browser.name().to_owned();
    result.id = ScenarioResult::make_id(
        &spec.profile.name,
        &spec.preset.name,
        &spec.clip.name,
        &result.client,
        "live",
        spec.seed,
    );

    // The agent on a fixed port, advertising the relay's address; the relay in front of it.
    let port = free_udp_port()?;
    let record_dir = scratch.join("agent");
    let mut config = AgentConfig::loopback(spec.preset.clone(), format!("browser-{}", spec.seed));
    config.media_port = Some(port);
    config.advertise_ip = Some(IpAddr::V4(RELAY_IP));
    config.record_dir = Some(record_dir.clone());
    config.behaviour = Behaviour::Echo;
    config.max_sessions = 1;
    let agent = jitterbug_agent::serve(config.clone()).await.context("starting the reference agent")?;
    let whip = WhipClient::new(
        &agent.url(),
        &config.token,
        Trust::CaPem(agent.ca_pem().ok_or_else(|| anyhow!("agent has no CA"))?.to_owned()),
    )?;
    let relay = Relay::start(RelayConfig {
        listen: SocketAddr::new(IpAddr::V4(RELAY_IP), port),
        upstream: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        upstream_ip: IpAddr::V4(RELAY_UPSTREAM_IP),
        profile: spec.profile.clone(),
        seed: spec.seed,
    })
    .await
    .with_context(|| format!("starting the relay on {RELAY_IP}:{port}"))?;
    let coturn = match spec.profile.nat.turn {
        TurnTransport::None => None,
        TurnTransport::Udp | TurnTransport::Tcp => Some(Coturn::start()?),
        TurnTransport::Tls => Some(Coturn::start_with_tls()?),
    };
    let ice_servers = coturn.iter().map(|c| turn_ice_server(c, spec.profile.nat.turn)).collect();
    let trust = coturn
        .as_ref()
        .and_then(|c| c.tls.as_ref())
        .map(|t| CertTrust { ca_pem: t.ca_pem.clone(), spki_sha256_b64: t.spki_sha256_b64.clone() });

    let wav = crate::wav::i16_bytes(&user, crate::clips::RATE);
    let run = PageRun {
        browser: spec.browser,
        webdriver: spec.webdriver.clone(),
        whip,
        clip_wav: wav,
        duration: spec.duration,
        tail: Duration::from_secs(1),
        source: spec.source,
        ice_servers,
        relay_only: coturn.is_some(),
        trust,
        allow_red: spec.allow_red,
        stats_interval: Duration::from_millis(500),
        deadline: spec.duration + Duration::from_secs(60),
    };
    let page = run_page(run).await;
    let relay_report = relay.finish().await;
    agent.shutdown().await;
    drop(coturn);
    let page = match page {
        Ok(p) => p,
        Err(e @ crate::browser::BrowserError::Unsupported { .. }) => {
            result.status = Status::Unsupported { reason: format!("{e}") };
            return Ok(BrowserCallOutput { result, relay: Some(relay_report), page: None, trace: Value::Null });
        }
        Err(e) => {
            result.status = Status::Error { reason: format!("{e}") };
            return Ok(BrowserCallOutput { result, relay: Some(relay_report), page: None, trace: Value::Null });
        }
    };
    let trace = page.agent_sessions.first().and_then(|s| s.trace.clone()).unwrap_or(Value::Null);
    let r = &page.result;
    result.browser = Some(BrowserInfo {
        name: spec.browser.name().to_owned(),
        version: page.browser_version.clone(),
        user_agent: r.get("user_agent").and_then(Value::as_str).unwrap_or_default().to_owned(),
        source: format!("{:?}", spec.source).to_lowercase(),
        red_allowed: spec.allow_red,
        negotiated: r.get("negotiated").cloned().unwrap_or(Value::Null),
        capture_settings: r.get("capture_settings").cloned().unwrap_or(Value::Null),
        constraints_ok: r.get("constraints_ok").and_then(Value::as_bool),
        selected_pair: r.get("selected_pair").cloned().unwrap_or(Value::Null),
        stats: r.get("stats").and_then(Value::as_array).cloned().unwrap_or_default(),
        cycle_ms: serde_json::to_value(page.timings).unwrap_or_default(),
    });
    if let Some(reason) = page.unsupported() {
        result.status = Status::Unsupported { reason: reason.to_owned() };
        return Ok(BrowserCallOutput { result, relay: Some(relay_report), page: Some(page), trace });
    }
    if let Some(e) = r.get("error").and_then(Value::as_str) {
        result.status = Status::Error { reason: format!("page: {e}") };
        return Ok(BrowserCallOutput { result, relay: Some(relay_report), page: Some(page), trace });
    }
    score_call(&spec, &mut result, &page, &trace, &relay_report, &record_dir)?;
    if let Some(reason) = &relay_report.timer.invalid {
        result.status = Status::Invalid { reason: reason.clone() };
    }
    Ok(BrowserCallOutput { result, relay: Some(relay_report), page: Some(page), trace })
}

/// The page's `RTCIceServer` for coturn over `transport`. TLS names the server `localhost`,
/// as its certificate does (browsers check the name against the `turns:` host).
fn turn_ice_server(coturn: &Coturn, transport: TurnTransport) -> IceServer {
    let url = match (transport, &coturn.tls) {
        (TurnTransport::Tls, Some(tls)) => format!("turns:localhost:{}?transport=tcp", tls.addr.port()),
        (TurnTransport::Tcp, _) => format!("turn:{}?transport=tcp", coturn.server.addr),
        _ => format!("turn:{}?transport=udp", coturn.server.addr),
    };
    IceServer {
        urls: vec![url],
        username: Some(coturn.server.username.clone()),
        credential: Some(coturn.server.password.clone()),
    }
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_f64)
}

/// Both directions on the agent's clock: the page's capture starts at `offer_unix_ms +
/// media_start_ms`; the agent's recordings at its session epoch.
fn score_call(
    spec: &BrowserCallSpec<'_>,
    result: &mut ScenarioResult,
    page: &PageOutcome,
    trace: &Value,
    relay: &RelayReport,
    record_dir: &Path,
) -> anyhow::Result<()> {
    let r = &page.result;
    let agent = AgentRecord::new(trace, record_dir)?;
    let epoch_ms = epoch_unix_ns(trace)? as f64 / 1e6;
    let capture_start_ms = num(r, &["offer_unix_ms"]).zip(num(r, &["media_start_ms"])).map(|(a, b)| a + b);
    let offset = capture_start_ms.map_or(0, |c| samples_48k(((c - epoch_ms) * 1e6) as i128));
    let on_agent_clock = |pcm: &[i16]| {
        let mut v = vec![0i16; offset];
        v.extend_from_slice(pcm);
        v
    };
    let codec = &spec.preset.codec;
    if let Some((up, _)) =
        agent.score_uplink(spec.profile, spec.preset, &on_agent_clock(&page.sent), relay.rtp_uplink)?
    {
        result.uplink = Some(up);
    }
    if let Some(sent_by_agent) = agent.recording("downlink") {
        // The browser's own buffer counters, from its last getStats sample.
        let last_in = page
            .result
            .get("stats")
            .and_then(Value::as_array)
            .and_then(|s| s.iter().rev().find_map(|x| x.get("inbound").filter(|v| !v.is_null())))
            .cloned()
            .unwrap_or(Value::Null);
        let n = |k: &str| num(&last_in, &[k]).unwrap_or(0.0);
        let stats = JitterBufferStats {
            packets_received: n("packetsReceived") as u64,
            jitter_buffer_delay: n("jitterBufferDelay"),
            jitter_buffer_target_delay: n("jitterBufferTargetDelay"),
            jitter_buffer_emitted_count: n("jitterBufferEmittedCount") as u64,
            total_samples_received: n("totalSamplesReceived") as u64,
            concealed_samples: n("concealedSamples") as u64,
            silent_concealed_samples: n("silentConcealedSamples") as u64,
            concealment_events: n("concealmentEvents") as u64,
            inserted_samples_for_deceleration: n("insertedSamplesForDeceleration") as u64,
            removed_samples_for_acceleration: n("removedSamplesForAcceleration") as u64,
            fec_recovered: n("fecPacketsReceived") as u64,
            ..Default::default()
        };
        result.downlink = Some(score::score(score::DirectionInputs {
            reference: &sent_by_agent,
            degraded: &on_agent_clock(&page.received),
            settings: codec,
            jitter_buffer: &spec.preset.jitter_buffer,
            codec_delay_ms: Decoder::new(codec)?.algorithmic_delay_samples() as f64 / 48.0,
            base_delay_ms: spec.profile.downlink.base.delay.ms.ms(),
            network: relay.rtp_downlink,
            stats,
        })?);
    }
    let pair = r.get("selected_pair").cloned().unwrap_or(Value::Null);
    // A candidate learnt through a TURN allocation can show as `prflx` with a relayProtocol
    // (Chromium does): what matters is that the path is relayed.
    let relayed = pair.get("relay_protocol").and_then(Value::as_str).is_some();
    let local_type = if relayed {
        Some("relay".to_owned())
    } else {
        pair.get("local_type").and_then(Value::as_str).map(str::to_owned)
    };
    let disconnects = r
        .get("pc_states")
        .and_then(Value::as_array)
        .map(|s| {
            let states: Vec<&str> = s.iter().filter_map(|x| x.get(1).and_then(Value::as_str)).collect();
            states.windows(2).filter(|w| w[0] == "connected" && matches!(w[1], "disconnected" | "failed")).count()
        })
        .unwrap_or(0) as u64;
    // Both channels are on the page's audio clock: voice-to-voice needs no clock mapping.
    let v2v = voice_to_voice(&page.sent, 0, &page.received);
    result.live = Some(LiveInfo {
        setup_ms: num(r, &["connected_ms"]),
        voice_to_voice_median_ms: Percentiles::of(&v2v).map(|p| p.p50),
        voice_to_voice_ms: v2v,
        turn_used: local_type.as_deref() == Some("relay"),
        candidate_type: local_type,
        disconnects,
        relay_rtp_uplink: relay.rtp_distinct_uplink,
        relay_rtp_downlink: relay.rtp_distinct_downlink,
        relay_timer_late_p99_ms: relay.timer.late_p99_ms,
        ..agent.conversation()
    });
    Ok(())
}
