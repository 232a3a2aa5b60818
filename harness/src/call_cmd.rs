//! `jitterbug call`: one live call through the impairment relay, with its evidence on disk.

use std::net::{SocketAddr, SocketAddrV4};
use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use jitterbug_core::results::ScenarioResult;

use crate::live::call::{CallOutput, CallSpec, call};
use crate::live::relay::CapturedDatagram;
use crate::pcap;
use crate::run_cmd::{RunInfo, run_id, write_json};
use crate::wav;

/// Runs the call and writes `result.json` first (what was measured survives any later
/// failure), then `run.json`, `capture.pcap` (every datagram the relay forwarded, both
/// directions), `relay.json`, `client.json`, `agent-trace.json`, `degraded.wav` (what the user
/// heard) and `degraded-uplink.wav` (what the agent heard).
pub async fn run_call(spec: CallSpec<'_>, out: &Path, command_line: &[String]) -> anyhow::Result<CallOutput> {
    let started = SystemTime::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let seed = spec.seed;
    let scratch = tempfile::Builder::new().prefix("jitterbug-call-").tempdir()?;
    let output = call(spec, scratch.path()).await?;
    write_outputs(&output, out)?;
    write_json(&out.join("run.json"), &RunInfo::finished(&run_id(started), started, command_line, &[seed], 1))?;
    Ok(output)
}

/// `jitterbug call --backend netns`: as [`run_call`], with the call in its own network
/// namespaces (real NAT, NFQUEUE impairment). Needs root.
pub async fn run_netns_call(
    profile: &jitterbug_core::profile::Profile,
    preset: &jitterbug_core::preset::Preset,
    clip: &crate::clips::Clip,
    seed: u64,
    call_seconds: f64,
    out: &Path,
    command_line: &[String],
) -> anyhow::Result<CallOutput> {
    let started = SystemTime::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let scratch = tempfile::Builder::new().prefix("jitterbug-netns-").tempdir()?;
    let (p, s, c, dir) = (profile.clone(), preset.clone(), clip.clone(), scratch.path().to_path_buf());
    let output =
        tokio::task::spawn_blocking(move || crate::netns::call::netns_call(&p, &s, &c, seed, call_seconds, &dir))
            .await
            .context("the netns call thread")??;
    write_outputs(&output, out)?;
    write_json(&out.join("run.json"), &RunInfo::finished(&run_id(started), started, command_line, &[seed], 1))?;
    Ok(output)
}

/// Where live calls run: through the userspace relay on loopback, or in network namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveBackend {
    Relay,
    Netns,
}

impl LiveBackend {
    pub fn name(self) -> &'static str {
        match self {
            LiveBackend::Relay => crate::live::call::BACKEND,
            LiveBackend::Netns => crate::netns::call::BACKEND,
        }
    }
}

/// Writes a call's files into `out`.
pub fn write_outputs(o: &CallOutput, out: &Path) -> anyhow::Result<()> {
    write_json(&out.join("result.json"), &o.result)?;
    write_json(&out.join("relay.json"), &o.relay)?;
    write_json(&out.join("client.json"), &o.client)?;
    write_json(&out.join("agent-trace.json"), &o.trace)?;
    write_capture(&out.join("capture.pcap"), &o.relay.capture)?;
    wav::write_i16(&out.join("degraded.wav"), &o.downlink_audio, 48_000)?;
    wav::write_i16(&out.join("degraded-uplink.wav"), &o.uplink_audio, 48_000)?;
    Ok(())
}

fn v4(a: SocketAddr) -> SocketAddrV4 {
    match a {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => {
            SocketAddrV4::new(a.ip().to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), a.port())
        }
    }
}

/// The relay's datagrams as an IPv4 capture (loopback addresses as they were).
pub fn write_capture(path: &Path, datagrams: &[CapturedDatagram]) -> anyhow::Result<()> {
    let frames: Vec<pcap::Frame<'_>> =
        datagrams.iter().map(|d| pcap::Frame { at: d.at, src: v4(d.src), dst: v4(d.dst), payload: &d.bytes }).collect();
    pcap::write(path, &frames)
}

/// One line per direction for the terminal.
pub fn summary(r: &ScenarioResult) -> String {
    let mut s = format!("{}: {:?}\n", r.id, r.status);
    for (name, d) in [("uplink", &r.uplink), ("downlink", &r.downlink)] {
        if let Some(d) = d {
            s += &format!(
                "  {name:<8} STOI {:.3}  ESTOI {:.3}  mouth-to-ear {:.1} ms  loss {:.1} % ({} of {} RTP)  concealed {:.1} %\n",
                d.stoi,
                d.estoi,
                d.mouth_to_ear_ms,
                d.network.loss_rate * 100.0,
                d.network.packets_sent - d.network.packets_delivered,
                d.network.packets_sent,
                d.concealment_ratio * 100.0
            );
        }
    }
    if let Some(l) = &r.live {
        s += &format!(
            "  setup {} ms, candidate {}, voice-to-voice median {} ms over {} turns ({} answered, {} false end-of-turn), relay timer p99 late {:.2} ms\n",
            l.setup_ms.map_or("-".into(), |v| format!("{v:.0}")),
            l.candidate_type.as_deref().unwrap_or("-"),
            l.voice_to_voice_median_ms.map_or("-".into(), |v| format!("{v:.0}")),
            l.turns,
            l.turns_answered,
            l.false_end_of_turn,
            l.relay_timer_late_p99_ms
        );
    }
    s
}

/// Who makes a live call: the native client or a browser over WebDriver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Native,
    Browser(crate::browser::Browser),
}

impl Caller {
    pub fn name(self) -> &'static str {
        match self {
            Caller::Native => "native",
            Caller::Browser(b) => b.name(),
        }
    }
}

/// `jitterbug run --backend live`: every profile × preset × clip × seed × caller as a live
/// call through the relay, `parallel` calls at a time (1 on a small machine: concurrent calls
/// compete for the CPU and their timing stops being the network's). TURN profiles the native
/// client cannot run (TCP/TLS TURN) are recorded as `unsupported`. Each call's evidence goes
/// to `calls/<profile>/<preset>/<clip>/<seed>/<caller>/` next to results.json.
#[allow(clippy::too_many_arguments)]
pub async fn run_live_matrix(
    profiles: &[jitterbug_core::profile::Profile],
    presets: &[jitterbug_core::preset::Preset],
    clips: &[crate::clips::Clip],
    callers: &[Caller],
    sweep: &crate::run_cmd::Sweep,
    webdriver: Option<&str>,
    backend: LiveBackend,
    out: &Path,
    parallel: usize,
) -> anyhow::Result<Vec<ScenarioResult>> {
    use futures_util::StreamExt;
    use jitterbug_core::profile::TurnTransport;
    use jitterbug_core::results::Status;

    let mut jobs = Vec::new();
    for profile in profiles {
        for preset in presets {
            for clip in clips {
                for &seed in &sweep.seeds {
                    for &caller in callers {
                        jobs.push((profile, preset, clip, seed, caller));
                    }
                }
            }
        }
    }
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} live calls  {elapsed_precise} (eta {eta})  {msg}",
        )
        .expect("valid template"),
    );
    let results = futures_util::stream::iter(jobs)
        .map(|(profile, preset, clip, seed, caller)| {
            let bar = bar.clone();
            async move {
                let id = ScenarioResult::make_id(
                    &profile.name,
                    &preset.name,
                    &clip.name,
                    caller.name(),
                    backend.name(),
                    seed,
                );
                if sweep.shard.is_some_and(|sh| !sh.includes(&id)) {
                    bar.inc(1);
                    return None;
                }
                bar.set_message(id.clone());
                let dir = out
                    .join("calls")
                    .join(&profile.name)
                    .join(&preset.name)
                    .join(&clip.name)
                    .join(seed.to_string())
                    .join(caller.name());
                let failed = |status: Status| {
                    let mut r = crate::sim::Scenario { profile, preset, clip, seed }.blank_result(backend.name());
                    r.id = id.clone();
                    r.client = caller.name().to_owned();
                    r.status = status;
                    r
                };
                let outcome = match (backend, caller) {
                    (LiveBackend::Netns, Caller::Browser(_)) => Ok(failed(Status::Unsupported {
                        reason: "netns backend: browser calls in namespaces are not built yet; use --backend live"
                            .into(),
                    })),
                    (LiveBackend::Netns, Caller::Native) => match crate::netns::call::unsupported(profile) {
                        Some(reason) => Ok(failed(Status::Unsupported { reason })),
                        None => run_netns_call(profile, preset, clip, seed, sweep.call_seconds, &dir, &[])
                            .await
                            .map(|o| o.result),
                    },
                    (_, Caller::Native) if matches!(profile.nat.turn, TurnTransport::Tcp | TurnTransport::Tls) => {
                        Ok(failed(Status::Unsupported {
                            reason: format!(
                                "turn over {:?}: the native client's TURN is UDP only (browsers run this profile)",
                                profile.nat.turn
                            )
                            .to_lowercase(),
                        }))
                    }
                    (_, Caller::Native) => {
                        let spec = CallSpec {
                            profile,
                            preset,
                            clip,
                            seed,
                            call_seconds: sweep.call_seconds,
                            agent: crate::live::call::AgentTarget::InProcess,
                            path: crate::live::call::NetworkPath::Relay,
                        };
                        run_call(spec, &dir, &[]).await.map(|o| o.result)
                    }
                    (_, Caller::Browser(browser)) => {
                        let spec = crate::live::browser_call::BrowserCallSpec {
                            browser,
                            webdriver: webdriver.map(str::to_owned),
                            profile,
                            preset,
                            clip,
                            seed,
                            duration: std::time::Duration::from_secs_f64(sweep.call_seconds),
                            source: crate::browser::Source::WebAudio,
                            allow_red: false,
                        };
                        run_browser(spec, &dir).await.map(|o| o.result)
                    }
                };
                let result = outcome.unwrap_or_else(|e| failed(Status::Error { reason: format!("{e:#}") }));
                bar.inc(1);
                Some(result)
            }
        })
        .buffer_unordered(parallel.max(1))
        .filter_map(|r| async move { r })
        .collect::<Vec<_>>()
        .await;
    bar.finish_and_clear();
    let mut results = results;
    results.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(results)
}

/// Runs a browser call and writes `result.json` first, then `relay.json`, `capture.pcap`,
/// `page-result.json` (everything the page reported), `agent-trace.json`, and what the page
/// sent and heard (`browser-sent.wav`, `browser-heard.wav`).
pub async fn run_browser(
    spec: crate::live::browser_call::BrowserCallSpec<'_>,
    out: &Path,
) -> anyhow::Result<crate::live::browser_call::BrowserCallOutput> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let scratch = tempfile::Builder::new().prefix("jitterbug-browser-").tempdir()?;
    let o = crate::live::browser_call::browser_call(spec, scratch.path()).await?;
    write_json(&out.join("result.json"), &o.result)?;
    write_json(&out.join("agent-trace.json"), &o.trace)?;
    if let Some(relay) = &o.relay {
        write_json(&out.join("relay.json"), relay)?;
        write_capture(&out.join("capture.pcap"), &relay.capture)?;
    }
    if let Some(page) = &o.page {
        write_json(&out.join("page-result.json"), &page.result)?;
        if !page.sent.is_empty() {
            wav::write_i16(&out.join("browser-sent.wav"), &page.sent, 48_000)?;
            wav::write_i16(&out.join("browser-heard.wav"), &page.received, 48_000)?;
        }
    }
    Ok(o)
}
