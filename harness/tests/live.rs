//! Live calls on loopback: the reference agent (webrtc 0.21), the impairment relay in front of
//! it, coturn for the TURN profile, and the native client on the sans-I/O core. Real UDP, real
//! time; every test checks that nothing it started is left running.

mod common;

use std::path::Path;

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;
use jitterbug::clips::Clip;
use jitterbug::live::agent::{AgentTarget, RemoteAgent};
use jitterbug::live::call::{CallOutput, CallSpec, NetworkPath, call};
use jitterbug::live::caller::Caller;
use jitterbug::scenario::Scenario;
use jitterbug::sim::{self, encode_cache::EncodeCache};
use jitterbug_core::identity::Client;
use jitterbug_core::preset::Preset;
use jitterbug_core::profile::Profile;
use jitterbug_core::results::{DirectionResult, Status};

/// Short calls: two user turns with the agent's echo after each.
const CALL_SECONDS: f64 = 10.0;
const CLIP: &str = "arctic-a0009-slt";

/// Live calls run one at a time: concurrent calls on a small machine make the relay late
/// (and it would rightly mark the runs invalid).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A native call of `CALL_SECONDS` to `agent` through the relay.
fn spec<'a>(profile: &'a Profile, preset: &'a Preset, clip: &'a Clip, seed: u64, agent: AgentTarget) -> CallSpec<'a> {
    CallSpec {
        scenario: Scenario { profile, preset, clip, seed, client: Client::Native, call_seconds: CALL_SECONDS },
        caller: Caller::Native,
        agent,
        path: NetworkPath::Relay,
    }
}

async fn live_call(profile: &str, preset: &str, seed: u64) -> CallOutput {
    let (profile, preset, clip) = common::catalog(profile, preset, CLIP);
    let scratch = tempfile::tempdir().unwrap();
    let out = call(spec(&profile, &preset, &clip, seed, AgentTarget::InProcess), scratch.path())
        .await
        .expect("the call runs");
    assert_eq!(out.result.status, Status::Ok, "{}", common::describe(&out.result));
    eprint!("{}", common::describe(&out.result));
    out
}

fn up(o: &CallOutput) -> &DirectionResult {
    o.result.uplink.as_ref().expect("uplink scored from the agent's recording")
}

fn down(o: &CallOutput) -> &DirectionResult {
    o.result.downlink.as_ref().expect("downlink scored against what the agent sent")
}

/// Our child processes (coturn) that are still alive.
fn children_alive() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut alive = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid …
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) && fields.first() != Some(&"Z") {
            alive.push(stat.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
        }
    }
    alive
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_call_connects_scores_and_every_rtp_packet_crosses_the_relay() {
    let _serial = SERIAL.lock().await;
    let o = live_call("clean", "balanced-fec", 1).await;
    let live = o.result.live.as_ref().unwrap();
    assert!(live.setup_ms.is_some_and(|ms| ms > 0.0 && ms < 5000.0), "setup {:?}", live.setup_ms);
    assert_eq!(live.candidate_type.as_deref(), Some("host"));
    assert!(up(&o).stoi >= 0.9, "uplink STOI {}", up(&o).stoi);
    assert!(down(&o).stoi >= 0.9, "downlink STOI {}", down(&o).stoi);
    // The relay saw every RTP packet either side sent, and the impairment counted them.
    assert!(live.client_rtp_sent > 400, "{live:?}");
    assert_eq!(live.relay_rtp_uplink, live.client_rtp_sent, "client RTP that bypassed the relay");
    assert_eq!(live.relay_rtp_downlink, live.agent_rtp_sent, "agent RTP that bypassed the relay");
    assert_eq!(up(&o).network.packets_sent, live.client_rtp_sent);
    assert_eq!(up(&o).network.loss_rate, 0.0);
    // Turn-taking: both user turns answered once, voice-to-voice measured for each.
    assert_eq!(live.turns, 2, "{:?}", o.trace);
    assert_eq!(live.turns_answered, 2);
    assert_eq!(live.false_end_of_turn, 0);
    assert_eq!(live.voice_to_voice_ms.len(), 2, "{live:?}");
    let stages = live.stages_ms.expect("stage timings from the agent's trace");
    // Hangover 600 ms + ASR 100 + agent 100 + TTS 80 come before the answer can be heard.
    for v in &live.voice_to_voice_ms {
        assert!((880.0..2000.0).contains(v), "voice-to-voice {v} ms");
    }
    assert!((stages.asr - 100.0).abs() < 1.0 && (stages.tts_first_audio - 80.0).abs() < 15.0, "{stages:?}");

    // The capture opens with pcap-file and holds every forwarded datagram.
    let dir = tempfile::tempdir().unwrap();
    let forwarded = o.relay.capture.len();
    let rtp_sent = live.client_rtp_sent + live.agent_rtp_sent;
    jitterbug::artifacts::write(dir.path(), &o.into_artifacts().unwrap()).unwrap();
    let file = std::fs::File::open(dir.path().join("capture.pcap")).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut n = 0;
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        assert!(p.data.len() > 28);
        n += 1;
    }
    assert_eq!(n, forwarded);
    assert!(n as u64 > rtp_sent);
    assert!(children_alive().is_empty(), "left running: {:?}", children_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_call_matches_the_simulator_for_the_same_seed() {
    let _serial = SERIAL.lock().await;
    let seed = 7;
    let o = live_call("loss-random-5", "balanced-fec", seed).await;
    // The simulator with the same profile, preset, seed and conversation script.
    let profile = Profiles::new(None).get("loss-random-5").unwrap();
    let preset = Presets::new(None).get("balanced-fec").unwrap();
    let script_s = o.script.pcm.len() as f64 / 48_000.0;
    let scenario = Scenario {
        profile: &profile,
        preset: &preset,
        clip: &o.script,
        seed,
        client: Client::Native,
        call_seconds: script_s,
    };
    let simulated = sim::run(&scenario, &EncodeCache::default()).result;
    let sim_up = simulated.uplink.as_ref().unwrap();
    let live_up = up(&o);
    eprintln!(
        "uplink STOI live {:.4} sim {:.4}; RTP lost live {}/{} sim {}/{}",
        live_up.stoi,
        sim_up.stoi,
        live_up.network.lost_loss_model,
        live_up.network.packets_sent,
        sim_up.network.lost_loss_model,
        sim_up.network.packets_sent
    );
    // Same RTP packets through the same impairment core with the same seed: same losses.
    assert_eq!(live_up.network.packets_sent, sim_up.network.packets_sent);
    assert_eq!(live_up.network.lost_loss_model, sim_up.network.lost_loss_model);
    assert!(live_up.network.lost_loss_model > 0);
    // Real-time arrival jitter on loopback is well under a frame: the same audio comes out.
    assert!((live_up.stoi - sim_up.stoi).abs() <= 0.03, "live {} sim {}", live_up.stoi, sim_up.stoi);
    assert!(o.result.downlink.as_ref().unwrap().network.lost_loss_model > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_ms_of_delay_measures_as_fifty_ms_over_the_clean_floor() {
    let _serial = SERIAL.lock().await;
    // The floor is what the same client and agent measure on `clean` (loopback, the relay's
    // forwarding, the stacks' queues); a fixed jitter buffer keeps mouth-to-ear comparable.
    let clean = live_call("clean", "fixed-60", 3).await;
    let delayed = live_call("delay-50", "fixed-60", 3).await;
    let (c, d) = (clean.result.live.as_ref().unwrap(), delayed.result.live.as_ref().unwrap());
    for (name, floor, measured) in [
        ("uplink", c.transit_uplink_ms, d.transit_uplink_ms),
        ("downlink", c.transit_downlink_ms, d.transit_downlink_ms),
    ] {
        let (floor, measured) = (floor.unwrap().p50, measured.unwrap().p50);
        eprintln!("{name} RTP transit: clean {floor:.2} ms, delay-50 {measured:.2} ms");
        assert!(floor < 5.0, "{name}: loopback floor {floor} ms");
        assert!((measured - floor - 50.0).abs() <= 5.0, "{name}: {measured} ms = 50 + floor {floor} ± 5?");
    }
    // From the audio: mouth-to-ear grows by the same 50 ms, within the 10 ms playout-tick
    // phase a real-time receiver adds either way.
    for (name, c, d) in [("uplink", up(&clean), up(&delayed)), ("downlink", down(&clean), down(&delayed))] {
        let added = d.mouth_to_ear_ms - c.mouth_to_ear_ms;
        eprintln!("{name} mouth-to-ear: clean {:.1} ms, delay-50 {:.1} ms", c.mouth_to_ear_ms, d.mouth_to_ear_ms);
        assert!((added - 50.0).abs() <= 12.0, "{name}: added {added} ms");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_profile_relays_through_coturn_promptly() {
    let _serial = SERIAL.lock().await;
    let relayed = live_call("nat-symmetric-turn", "balanced-fec", 5).await;
    let live = relayed.result.live.as_ref().unwrap();
    assert_eq!(live.candidate_type.as_deref(), Some("relay"), "{live:?}");
    assert!(live.turn_used);
    assert!(up(&relayed).stoi >= 0.9 && down(&relayed).stoi >= 0.9);
    // Our client flushes relay writes at once: relayed RTP transit stays at the path's delay
    // (compare turn_stock_driver.rs: the stock async driver's uplink p95 is about 19 ms).
    let transit = live.transit_uplink_ms.expect("uplink transit");
    eprintln!(
        "native client via TURN: uplink transit p50 {:.2} ms, p95 {:.2} ms, setup {:?} ms",
        transit.p50, transit.p95, live.setup_ms
    );
    let path_ms = Profiles::new(None).get("nat-symmetric-turn").unwrap().uplink.base.delay.ms.ms();
    assert!(transit.p95 - path_ms < 5.0, "relayed uplink transit p95 {} ms on a {path_ms} ms path", transit.p95);
    assert!(live.setup_ms.is_some_and(|ms| ms < 1500.0), "no 2 s relay acceptance wait for a relay-only client");
    // The same 20 ms path without NAT or TURN: the relayed path adds little (our client
    // flushes relay writes at once; the stock async driver adds 200-400 ms here).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../netem-profiles/nat-symmetric-turn.toml"),
    )
    .unwrap();
    let direct = text.replace("[nat]\nclient = \"symmetric\"\nagent = \"port-restricted\"\nturn = \"udp\"\n", "");
    assert_ne!(direct, text, "the [nat] table moved; update this test");
    std::fs::write(dir.path().join("direct-20.toml"), direct).unwrap();
    let profile = Profiles::new(Some(dir.path().to_path_buf())).get("direct-20").unwrap();
    let preset = Presets::new(None).get("balanced-fec").unwrap();
    let clip = clips::load(CLIP).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let direct = call(spec(&profile, &preset, &clip, 5, AgentTarget::InProcess), scratch.path()).await.unwrap();
    let added = [
        up(&relayed).mouth_to_ear_ms - up(&direct).mouth_to_ear_ms,
        down(&relayed).mouth_to_ear_ms - down(&direct).mouth_to_ear_ms,
    ];
    eprintln!("TURN adds {:.1} ms uplink, {:.1} ms downlink", added[0], added[1]);
    assert!(added.iter().all(|a| a.abs() < 10.0), "relayed path adds {added:?} ms");
    assert!(children_alive().is_empty(), "left running: {:?}", children_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_during_a_call_get_their_4xx_and_the_call_carries_on() {
    let _serial = SERIAL.lock().await;
    use jitterbug::whip_client::{Trust, WhipClient};
    let preset = Presets::new(None).get("balanced-fec").unwrap();
    let profile = Profiles::new(None).get("clean").unwrap();
    let clip = clips::load(CLIP).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut config = jitterbug_agent::AgentConfig::loopback(preset.clone(), "tok");
    config.record_dir = Some(scratch.path().join("agent-recordings"));
    let agent = jitterbug_agent::serve(config).await.unwrap();
    let ca = agent.ca_pem().unwrap().to_owned();
    let remote = AgentTarget::Remote(RemoteAgent {
        url: agent.url(),
        token: "tok".into(),
        trust: Trust::CaPem(ca.clone()),
        recordings: Some(scratch.path().join("agent-recordings")),
    });
    let spec = spec(&profile, &preset, &clip, 11, remote);
    let abuse = async {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let c = WhipClient::new(&agent.url(), "tok", Trust::CaPem(ca.clone())).unwrap();
        let (post, sdp) = (hyper::Method::POST, Some("application/sdp"));
        let status = |r: Result<(u16, _, _), _>| r.expect("the agent answers").0;
        let statuses = [
            status(c.request(post.clone(), "/whip", sdp, b"v=0\r\n".to_vec(), Some("wrong")).await),
            status(c.request(post.clone(), "/whip", sdp, b"garbage".to_vec(), Some("tok")).await),
            status(c.request(post, "/whip", sdp, vec![b'a'; 1 << 20], Some("tok")).await),
            status(c.request(hyper::Method::DELETE, "/whip/no-such-session", None, vec![], Some("tok")).await),
        ];
        assert_eq!(statuses, [401, 400, 413, 404]);
        assert_eq!(agent.session_count(), 1, "the live session is still there");
    };
    let (outcome, ()) = tokio::join!(call(spec, scratch.path()), abuse);
    let o = outcome.expect("the call runs");
    assert_eq!(o.result.status, Status::Ok);
    assert!(up(&o).stoi >= 0.9 && down(&o).stoi >= 0.9, "{}", common::describe(&o.result));
    assert_eq!(up(&o).jitter_buffer.packets_late, 0);
    agent.shutdown().await;
}

/// The downlink of a live call, replayed from the relay's capture with the agent's plaintext
/// record, against what the native client's own buffer did with the same packets: the
/// capture's clock starts at the relay's start, the client's ticks at the agent's, so the
/// 10 ms tick phase and loopback scheduling are all that differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_calls_downlink_replayed_matches_the_clients_own_buffer() {
    let _serial = SERIAL.lock().await;
    let o = live_call("lossy-high-jitter", "balanced-fec", 5).await;
    let client = down(&o).jitter_buffer;
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("capture.pcap");
    let zero = std::time::Duration::from_nanos(o.relay.started_unix_ns);
    jitterbug::pcap::write(&capture, &o.relay.capture, zero).unwrap();
    let record = dir.path().join("downlink.rtpdump");
    std::fs::write(&record, o.agent_sent.as_ref().expect("the agent kept a record").to_bytes()).unwrap();
    let first = o.agent_sent.as_ref().unwrap().records[0].packet.clone();
    let ssrc = u32::from_be_bytes(first[8..12].try_into().unwrap());
    let preset = Presets::new(None).get("balanced-fec").unwrap();
    let replay = jitterbug::replay::replay(&jitterbug::replay::Request {
        capture: &capture,
        preset: &preset,
        ssrc: Some(ssrc),
        payloads: jitterbug::replay::Payloads::Record(record.clone()),
        reference: None,
        until: None,
    })
    .expect("the call's downlink replays");
    let r = &replay.result;
    let ours = r.jitter_buffer;
    let share = |s: &jitterbug_core::jitter_buffer::JitterBufferStats| s.stretched_ratio();
    let target = |s: &jitterbug_core::jitter_buffer::JitterBufferStats| s.mean_target_delay_ms().unwrap_or(0.0);
    eprintln!(
        "client: concealed {:.4} stretched {:.4} target {:.1} ms late {} FEC {}; replay: {:.4} {:.4} {:.1} ms {} {}",
        client.voice_concealment_ratio(),
        share(&client),
        target(&client),
        client.packets_late,
        client.fec_recovered,
        ours.voice_concealment_ratio(),
        share(&ours),
        target(&ours),
        ours.packets_late,
        ours.fec_recovered
    );
    // The live bands (golden/live/tolerances.toml: concealment 0.05) are wide; the replay holds
    // the calibration's bands instead (±0.5 pp, ±25 ms).
    assert!((ours.voice_concealment_ratio() - client.voice_concealment_ratio()).abs() <= 0.005);
    assert!((share(&ours) - share(&client)).abs() <= 0.005);
    assert!((target(&ours) - target(&client)).abs() <= 25.0);
    assert!(ours.fec_recovered.abs_diff(client.fec_recovered) <= 3);
    assert!(ours.packets_late.abs_diff(client.packets_late) <= 3);
    assert!(r.stream.lost > 0, "the profile loses packets on the way: {:?}", r.stream);
    // The record and the capture share the host's clock: only the sent audio is missing for
    // mouth-to-ear, not the send times.
    assert_eq!(r.mouth_to_ear_ms, None);
    assert!(r.unavailable["mouth_to_ear_ms"].contains("--reference"), "{:?}", r.unavailable);
}
