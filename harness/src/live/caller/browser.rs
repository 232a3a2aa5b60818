//! A browser as the caller: the test page runs in Chromium, Firefox or WebKit over WebDriver,
//! calls the agent through the page server's WHIP proxy (with its own TURN client when the
//! profile needs one), and reports what it sent and heard on one audio clock plus getStats.

use std::time::Duration;

use jitterbug_core::codec::Decoder;
use jitterbug_core::jitter_buffer::JitterBufferStats;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::TurnTransport;
use jitterbug_core::results::{BrowserInfo, Status};
use serde_json::Value;

use super::{BrowserCaller, CallerOutcome, CallerRecord, CallerResult};
use crate::browser::{CertTrust, IceServer, PageOutcome, PageRun, run_page};
use crate::live::coturn::Coturn;
use crate::score::two_sided::Heard;
use crate::whip_client::WhipClient;

/// How the browser calls.
pub struct BrowserCall<'a> {
    pub caller: &'a BrowserCaller,
    /// What the page sends (played once from when the call connects).
    pub script: &'a [i16],
    pub preset: &'a Preset,
    pub duration: Duration,
    pub turn: Option<(&'a Coturn, TurnTransport)>,
}

/// Runs the page; a browser that cannot make calls gives `unsupported`.
pub async fn call(c: BrowserCall<'_>, whip: WhipClient) -> anyhow::Result<CallerOutcome> {
    let run = PageRun {
        browser: c.caller.browser,
        webdriver: c.caller.webdriver.clone(),
        whip,
        clip_wav: crate::wav::i16_bytes(c.script, crate::clips::RATE),
        duration: c.duration,
        tail: Duration::from_secs(1),
        source: c.caller.source,
        ice_servers: c.turn.iter().map(|(coturn, transport)| turn_ice_server(coturn, *transport)).collect(),
        relay_only: c.turn.is_some(),
        trust: c
            .turn
            .and_then(|(coturn, _)| coturn.tls.as_ref())
            .map(|t| CertTrust { ca_pem: t.ca_pem.clone(), spki_sha256_b64: t.spki_sha256_b64.clone() }),
        allow_red: c.caller.allow_red,
        stats_interval: Duration::from_millis(500),
        deadline: c.duration + Duration::from_secs(60),
    };
    let page = match run_page(run).await {
        Ok(p) => p,
        // Combinations a browser cannot run are refused by the backend before a call starts;
        // one that gets here anyway is an error, like a driver that would not start.
        Err(e) => {
            let status = Status::Error { reason: format!("{e}") };
            return Ok(CallerOutcome::failed(status, None, CallerRecord::Browser(None), None));
        }
    };
    let trace = page.agent_sessions.first().and_then(|s| s.trace.clone());
    let info = browser_info(c.caller, &page);
    let failed = |status| CallerResult::Failed { status, trace: trace.clone().map(Box::new) };
    let result = if let Some(reason) = page.unsupported() {
        failed(Status::Unsupported { reason: reason.to_owned() })
    } else if let Some(e) = page.result.get("error").and_then(Value::as_str) {
        failed(Status::Error { reason: format!("page: {e}") })
    } else if let Some(trace) = trace.clone() {
        CallerResult::Heard(Box::new(heard(c.preset, trace, &page)?))
    } else {
        failed(Status::Error { reason: "the agent served no trace of the session".into() })
    };
    Ok(CallerOutcome { result, record: CallerRecord::Browser(Some(page)), browser: Some(info) })
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

fn browser_info(caller: &BrowserCaller, page: &PageOutcome) -> BrowserInfo {
    let r = &page.result;
    BrowserInfo {
        name: caller.browser.name().to_owned(),
        version: page.browser_version.clone(),
        user_agent: r.get("user_agent").and_then(Value::as_str).unwrap_or_default().to_owned(),
        source: format!("{:?}", caller.source).to_lowercase(),
        red_allowed: caller.allow_red,
        negotiated: r.get("negotiated").cloned().unwrap_or(Value::Null),
        capture_settings: r.get("capture_settings").cloned().unwrap_or(Value::Null),
        constraints_ok: r.get("constraints_ok").and_then(Value::as_bool),
        selected_pair: r.get("selected_pair").cloned().unwrap_or(Value::Null),
        stats: r.get("stats").and_then(Value::as_array).cloned().unwrap_or_default(),
        cycle_ms: serde_json::to_value(page.timings).unwrap_or_default(),
    }
}

/// The page's record on the agent's clock: its capture starts at `offer_unix_ms +
/// media_start_ms`; the agent's session clock at its epoch. Downlink buffer counters are the
/// browser's own, from its last getStats sample.
fn heard(preset: &Preset, trace: jitterbug_core::agent_trace::AgentTrace, page: &PageOutcome) -> anyhow::Result<Heard> {
    let r = &page.result;
    let epoch_ms = trace.epoch_unix_ns as f64 / 1e6;
    let capture_start_ms = num(r, &["offer_unix_ms"]).zip(num(r, &["media_start_ms"])).map(|(a, b)| a + b);
    let at_ns = capture_start_ms.map_or(0, |c| ((c - epoch_ms) * 1e6) as i128);
    let last_in = r
        .get("stats")
        .and_then(Value::as_array)
        .and_then(|s| s.iter().rev().find_map(|x| x.get("inbound").filter(|v| !v.is_null())))
        .cloned()
        .unwrap_or(Value::Null);
    let n = |k: &str| num(&last_in, &[k]).unwrap_or(0.0);
    let downlink_stats = JitterBufferStats {
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
    let pair = r.get("selected_pair").cloned().unwrap_or(Value::Null);
    // A candidate learnt through a TURN allocation can show as `prflx` with a relayProtocol
    // (Chromium does): what matters is that the path is relayed.
    let relayed = pair.get("relay_protocol").and_then(Value::as_str).is_some();
    let candidate_type = if relayed {
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
    Ok(Heard {
        trace,
        // Both channels are on the page's audio clock.
        sent: page.sent.clone(),
        heard: page.received.clone(),
        sent_at_ns: at_ns,
        heard_at_ns: at_ns,
        downlink_stats,
        codec_delay_ms: Decoder::new(&preset.codec)?.algorithmic_delay_samples() as f64 / 48.0,
        setup_ms: num(r, &["connected_ms"]),
        candidate_type,
        disconnects,
        transit_uplink_ms: Vec::new(),
        transit_downlink_ms: Vec::new(),
        rtp_sent: 0,
    })
}
