//! Agent capacity on this machine: how many concurrent echo sessions the reference agent
//! carries with no late frames, next to what bare Opus encode + decode allows.
//!
//! 1. Bare codec: one thread encodes and decodes 20 ms speech frames with the `balanced-fec`
//!    preset as fast as it can; `frames/s ÷ 50` is the number of real-time duplex streams one
//!    core could code, times the cores is the codec-only ceiling.
//! 2. Agent: one in-process agent, N native-client calls at once on `clean` through the relay
//!    (N = 1, 2, 4, …). A step passes when every session connected, no agent media tick was
//!    late by a whole 10 ms tick, its jitter buffer lost no packet to lateness, and every relay kept
//!    time. The largest passing N is the capacity. Clients and relays run on the same cores,
//!    so this is a floor for the agent alone.
//!
//! `cargo bench -p jitterbug --bench agent_capacity` (about two minutes; prints a table).

use std::time::{Duration, Instant};

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;
use jitterbug::live::agent::{AgentTarget, RemoteAgent};
use jitterbug::live::call::{CallSpec, NetworkPath, call};
use jitterbug::live::caller::Caller;
use jitterbug::scenario::Scenario;
use jitterbug::whip_client::Trust;
use jitterbug_agent::AgentConfig;
use jitterbug_core::codec::{Decoder, Encoder};
use jitterbug_core::identity::Client;
use jitterbug_core::results::Status;

const STEPS: [usize; 9] = [1, 2, 4, 8, 16, 24, 32, 48, 64];
const CALL_SECONDS: f64 = 8.0;

fn bare_codec_streams_per_core() -> f64 {
    let preset = Presets::embedded().get("balanced-fec").unwrap();
    let clip = clips::load("arctic-a0009-slt").unwrap();
    let mut enc = Encoder::new(&preset.codec).unwrap();
    let mut dec = Decoder::new(&preset.codec).unwrap();
    let n = preset.codec.frame_samples();
    let frames: Vec<&[i16]> = clip.pcm.chunks_exact(n).collect();
    let started = Instant::now();
    let mut coded = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        for f in &frames {
            let e = enc.encode(f).unwrap();
            std::hint::black_box(dec.decode(&e.payload).unwrap());
            coded += 1;
        }
    }
    let per_s = coded as f64 / started.elapsed().as_secs_f64();
    per_s / (1000.0 / f64::from(preset.codec.frame_ms.millis()))
}

/// Runs `n` calls at once against one agent; `Ok(())` when none had a late frame.
async fn step(n: usize) -> Result<(), String> {
    let preset = Presets::embedded().get("balanced-fec").unwrap();
    let profile = Profiles::embedded().get("clean").unwrap();
    let clip = clips::load("arctic-a0009-slt").unwrap();
    let mut config = AgentConfig::loopback(preset.clone(), "capacity");
    config.max_sessions = 128;
    let agent = jitterbug_agent::serve(config).await.unwrap();
    let ca = agent.ca_pem().unwrap().to_owned();
    let url = agent.url();
    let scratch = tempfile::tempdir().unwrap();
    let calls = (0..n).map(|i| {
        let spec = CallSpec {
            scenario: Scenario {
                profile: &profile,
                preset: &preset,
                clip: &clip,
                seed: i as u64 + 1,
                client: Client::Native,
                call_seconds: CALL_SECONDS,
            },
            caller: Caller::Native,
            agent: AgentTarget::Remote(RemoteAgent {
                url: url.clone(),
                token: "capacity".into(),
                trust: Trust::CaPem(ca.clone()),
                recordings: None,
            }),
            path: NetworkPath::Relay,
        };
        let dir = scratch.path().join(i.to_string());
        async move { call(spec, &dir).await }
    });
    let outcomes = futures_util::future::join_all(calls).await;
    agent.shutdown().await;
    let mut problems = Vec::new();
    for (i, o) in outcomes.into_iter().enumerate() {
        match o {
            Err(e) => problems.push(format!("call {i}: {e:#}")),
            Ok(o) => {
                if let Status::Invalid { reason } | Status::Error { reason } = &o.result.status {
                    problems.push(format!("call {i}: {reason}"));
                }
                let (late_ticks, late_packets) =
                    o.trace.as_ref().map_or((u64::MAX, u64::MAX), |t| (t.ticks_missed, t.jitter_buffer.packets_late));
                if late_ticks > 0 || late_packets > 0 {
                    problems.push(format!("call {i}: {late_ticks} missed media ticks, {late_packets} late packets"));
                }
            }
        }
    }
    match problems.len() {
        0 => Ok(()),
        n if n > 3 => Err(format!("{} (and {} more calls)", problems[..3].join("; "), n - 3)),
        _ => Err(problems.join("; ")),
    }
}

fn main() {
    // `cargo bench --no-run` builds this; `cargo test --benches` would run it with --bench absent.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_core = bare_codec_streams_per_core();
    println!(
        "bare Opus encode+decode (balanced-fec, 20 ms): {per_core:.0} real-time duplex streams per core, {:.0} on {cores} cores",
        per_core * cores as f64
    );
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut capacity = 0;
    for n in STEPS {
        let started = Instant::now();
        match rt.block_on(step(n)) {
            Ok(()) => {
                println!("{n:>3} concurrent echo sessions: no late frames ({:.1} s)", started.elapsed().as_secs_f64());
                capacity = n;
            }
            Err(why) => {
                println!("{n:>3} concurrent echo sessions: late frames — {why}");
                break;
            }
        }
    }
    println!(
        "capacity: {capacity} concurrent echo sessions without late frames on {cores} cores; bare codec ceiling {:.0}; ratio {:.3}",
        per_core * cores as f64,
        capacity as f64 / (per_core * cores as f64)
    );
}
