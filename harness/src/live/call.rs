//! One live call, the only way any backend makes one: the agent (started here, or any WHIP
//! agent by URL), the path between (the impairment relay on loopback, or a path someone else
//! runs, such as the netns router), coturn when the profile needs TURN, and the caller (the
//! native client or a browser) — then the two-sided score on the agent's clock.
//!
//! The user's side of the call is a conversation script ([`conversation_script`]): the clip,
//! then silence long enough for the agent to answer, repeated. The simulator can play the same
//! script, which is how live and simulated uplinks are compared.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use jitterbug_core::agent_trace::AgentTrace;
use jitterbug_core::identity::BackendKind;
use jitterbug_core::profile::{Profile, TurnTransport};
use jitterbug_core::results::{ScenarioResult, Status};
use jitterbug_core::rtpdump::Rtpdump;

use super::agent::{AgentTarget, RunningAgent};
use super::caller::browser::BrowserCall;
use super::caller::native::NativeCall;
use super::caller::{Caller, CallerRecord, CallerResult};
use super::coturn::Coturn;
use super::relay::{RELAY_IP, RELAY_UPSTREAM_IP, Relay, RelayConfig, RelayReport};
use crate::artifacts::{Artifact, CallArtifacts};
use crate::clips::{Clip, RATE};
use crate::scenario::Scenario;
use crate::score::two_sided::{self, PathCounts};

/// The network between the caller and the agent.
pub enum NetworkPath {
    /// The userspace impairment relay on loopback, started and stopped by the call.
    Relay,
    /// A path run by someone else (the netns router): the caller reaches the agent's own
    /// candidate from `client_bind`, and `finish` stops the path and says what it saw.
    External(ExternalPath),
}

pub struct ExternalPath {
    /// The backend named in the result.
    pub backend: BackendKind,
    pub client_bind: SocketAddr,
    pub finish: Box<dyn FnOnce() -> anyhow::Result<RelayReport> + Send>,
}

impl NetworkPath {
    fn backend(&self) -> BackendKind {
        match self {
            NetworkPath::Relay => BackendKind::Live,
            NetworkPath::External(p) => p.backend,
        }
    }
}

pub struct CallSpec<'a> {
    pub scenario: Scenario<'a>,
    pub caller: Caller,
    pub agent: AgentTarget,
    pub path: NetworkPath,
}

/// Everything one call produced.
pub struct CallOutput {
    pub result: ScenarioResult,
    pub relay: RelayReport,
    pub caller: CallerRecord,
    /// The agent's session trace (stage timings, jitter-buffer counters), when it served one.
    pub trace: Option<AgentTrace>,
    /// What the agent heard and what the user heard, on the agent's session clock (48 kHz).
    pub uplink_audio: Vec<i16>,
    pub downlink_audio: Vec<i16>,
    /// The script the user spoke.
    pub script: Clip,
    /// The agent's plaintext record of the RTP it sent (its recording directory's
    /// `<id>.downlink.rtpdump`), when it kept one.
    pub agent_sent: Option<Rtpdump>,
}

impl CallOutput {
    /// The call's evidence: `relay.json` and `capture.pcap` (every datagram the path
    /// forwarded, both directions), `agent-trace.json`, the agent's `downlink.rtpdump` (the
    /// plaintext of what it sent, for `jitterbug replay`), and the caller's own record — the
    /// native client's `client.json` with `degraded.wav` (what the user heard) and
    /// `degraded-uplink.wav` (what the agent heard), or the page's `page-result.json` with
    /// `browser-sent.wav` and `browser-heard.wav`.
    pub fn into_artifacts(self) -> anyhow::Result<CallArtifacts> {
        let mut files = vec![Artifact::json("relay.json", &self.relay)?];
        match &self.caller {
            CallerRecord::Native(client) => files.push(Artifact::json("client.json", client)?),
            CallerRecord::Browser(Some(page)) => files.push(Artifact::json("page-result.json", &page.result)?),
            CallerRecord::Browser(None) => {}
        }
        if let Some(trace) = &self.trace {
            files.push(Artifact::json("agent-trace.json", trace)?);
        }
        let zero = Duration::from_nanos(self.relay.started_unix_ns);
        files.push(Artifact::Pcap { name: "capture.pcap", datagrams: self.relay.capture, zero });
        if let Some(dump) = self.agent_sent {
            files.push(Artifact::Rtpdump { name: "downlink.rtpdump", dump });
        }
        match self.caller {
            CallerRecord::Native(_) => {
                files.push(Artifact::Wav { name: "degraded.wav", pcm: self.downlink_audio });
                files.push(Artifact::Wav { name: "degraded-uplink.wav", pcm: self.uplink_audio });
            }
            CallerRecord::Browser(Some(page)) if !page.sent.is_empty() => {
                files.push(Artifact::Wav { name: "browser-sent.wav", pcm: page.sent });
                files.push(Artifact::Wav { name: "browser-heard.wav", pcm: page.received });
            }
            CallerRecord::Browser(_) => {}
        }
        Ok(CallArtifacts { result: self.result, files })
    }
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

/// A browser's line: the clip once, then silence for the agent's answer (the page plays it
/// for the call's length).
fn single_turn(clip: &Clip) -> Clip {
    let mut pcm = clip.pcm.to_vec();
    pcm.resize(pcm.len() + clip.pcm.len() + 2 * RATE as usize, 0);
    Clip { name: clip.name.clone(), pcm: Arc::new(pcm) }
}

/// The path of a call in progress.
enum ActivePath {
    /// Waiting for the agent's answer to say where it is.
    Unspliced,
    Relay(Relay),
    External(ExternalPath),
}

async fn start_relay(listen: SocketAddr, upstream: SocketAddr, profile: &Profile, seed: u64) -> anyhow::Result<Relay> {
    Relay::start(RelayConfig {
        listen,
        upstream,
        upstream_ip: IpAddr::V4(RELAY_UPSTREAM_IP),
        profile: profile.clone(),
        seed,
    })
    .await
    .with_context(|| format!("starting the relay on {listen}"))
}

/// Runs one call. Errors before the call connects are errors; everything after is measured.
pub async fn call(spec: CallSpec<'_>, scratch: &Path) -> anyhow::Result<CallOutput> {
    let s = spec.scenario;
    let backend = spec.path.backend();
    let script = match spec.caller {
        Caller::Native => conversation_script(s.clip, s.call_seconds),
        Caller::Browser(_) => single_turn(s.clip),
    };
    let mut result = s.blank_result(backend, script.pcm.len() as f64 / f64::from(RATE));
    if matches!((&spec.agent, &spec.path), (AgentTarget::InProcess, NetworkPath::External(_))) {
        bail!("an external path is built around its own agent: pass it as AgentTarget::Remote");
    }
    let turn = s.profile.nat.turn;
    if matches!(spec.caller, Caller::Native) && matches!(turn, TurnTransport::Tcp | TurnTransport::Tls) {
        bail!(
            "profile {}: the native client's TURN is UDP only (the backend reports this unsupported)",
            s.profile.name
        );
    }

    let agent = RunningAgent::start(&spec.agent, s.preset, s.seed, scratch).await?;
    let coturn = match turn {
        TurnTransport::None => None,
        TurnTransport::Udp | TurnTransport::Tcp => Some(Coturn::start()?),
        TurnTransport::Tls => Some(Coturn::start_with_tls()?),
    };
    let mut path = match spec.path {
        NetworkPath::External(p) => ActivePath::External(p),
        NetworkPath::Relay => match agent.placement {
            // The agent advertises the relay's address with its own port.
            Some(p) => {
                let listen = SocketAddr::new(p.advertise.unwrap_or(IpAddr::V4(RELAY_IP)), p.media.port());
                ActivePath::Relay(start_relay(listen, p.media, s.profile, s.seed).await?)
            }
            None => ActivePath::Unspliced,
        },
    };
    let client_bind = match &path {
        ActivePath::External(p) => p.client_bind,
        _ => SocketAddr::from(([127, 0, 0, 1], 0)),
    };

    let outcome = match &spec.caller {
        Caller::Native => {
            let c = NativeCall {
                script: &script,
                preset: s.preset,
                seed: s.seed,
                turn: coturn.as_ref().map(|c| c.server.clone()),
                bind: client_bind,
            };
            let splice = async |answer: String| -> anyhow::Result<String> {
                if !matches!(path, ActivePath::Unspliced) {
                    return Ok(answer);
                }
                let agent_addr = candidate_address(&answer)?;
                let relay =
                    start_relay(SocketAddr::new(IpAddr::V4(RELAY_IP), 0), agent_addr, s.profile, s.seed).await?;
                let sdp = rewrite_candidates(&answer, agent_addr, relay.listen);
                path = ActivePath::Relay(relay);
                Ok(sdp)
            };
            super::caller::native::call(c, &agent.whip, splice).await
        }
        Caller::Browser(b) => {
            if matches!(path, ActivePath::Unspliced) {
                bail!(
                    "a browser calls the reference agent started here: the page server cannot splice the relay into a remote agent's answer yet"
                );
            }
            let c = BrowserCall {
                caller: b,
                script: &script.pcm,
                preset: s.preset,
                duration: Duration::from_secs_f64(s.call_seconds),
                turn: coturn.as_ref().map(|c| (c, turn)),
            };
            super::caller::browser::call(c, agent.whip.clone()).await
        }
    };
    let relay = match path {
        ActivePath::Relay(relay) => relay.finish().await,
        ActivePath::External(p) => (p.finish)()?,
        ActivePath::Unspliced => RelayReport::default(),
    };
    let record_dir = agent.record_dir.clone();
    agent.shutdown().await;
    drop(coturn);
    let outcome = outcome?;

    let trace = outcome.trace().cloned();
    let agent_sent = trace.as_ref().and_then(|t| read_agent_record(&record_dir, &t.id));
    result.browser = outcome.browser;
    let (mut uplink_audio, mut downlink_audio) = (Vec::new(), Vec::new());
    match &outcome.result {
        CallerResult::Failed { status, .. } => result.status = status.clone(),
        CallerResult::Heard(heard) => {
            let counts = PathCounts {
                rtp_uplink: relay.rtp_uplink,
                rtp_downlink: relay.rtp_downlink,
                rtp_distinct_uplink: relay.rtp_distinct_uplink,
                rtp_distinct_downlink: relay.rtp_distinct_downlink,
                timer_late_p99_ms: relay.timer.late_p99_ms,
            };
            uplink_audio = two_sided::score(&mut result, s.profile, s.preset, &record_dir, heard, counts)?;
            downlink_audio = heard.heard.clone();
            if let Some(reason) = &relay.timer.invalid {
                result.status = Status::Invalid { reason: reason.clone() };
            }
        }
    }
    Ok(CallOutput { result, relay, caller: outcome.record, trace, uplink_audio, downlink_audio, script, agent_sent })
}

/// The agent's `<id>.downlink.rtpdump`; a missing or unreadable one is only a missing artifact.
fn read_agent_record(dir: &Path, id: &str) -> Option<Rtpdump> {
    let path = dir.join(format!("{id}.downlink.rtpdump"));
    let bytes = std::fs::read(&path).ok()?;
    match Rtpdump::parse(&bytes) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("jitterbug: {}: {e}; downlink.rtpdump not written", path.display());
            None
        }
    }
}

/// The first UDP host candidate's address in an answer.
fn candidate_address(sdp: &str) -> anyhow::Result<SocketAddr> {
    for line in sdp.lines() {
        let Some(c) = line.strip_prefix("a=candidate:") else { continue };
        let f: Vec<&str> = c.split_whitespace().collect();
        if f.len() >= 8 && f[2].eq_ignore_ascii_case("udp") {
            let ip: IpAddr = f[4].parse().with_context(|| format!("answer candidate address `{}`", f[4]))?;
            let port: u16 = f[5].parse().with_context(|| format!("answer candidate port `{}`", f[5]))?;
            return Ok(SocketAddr::new(ip, port));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_rewritten_to_the_relay() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n";
        let addr = candidate_address(sdp).unwrap();
        assert_eq!(addr, "127.0.0.1:40000".parse::<SocketAddr>().unwrap());
        let out = rewrite_candidates(sdp, addr, "127.0.0.2:5000".parse().unwrap());
        assert!(out.contains("udp 2130706431 127.0.0.2 5000 typ host"), "{out}");
    }
}
