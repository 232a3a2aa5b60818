//! The browser page against the in-process reference agent (echo behaviour), in real Chromium,
//! Firefox and WebKitGTK under WebDriver. Needs the `browser` feature (on in `make test`) and the
//! browsers, drivers, Xvfb and PulseAudio (scripts/deps.sh); a missing one fails the test with
//! the package to install, it never skips. Tests take a lock: browsers compete for the cores,
//! and each test checks that nothing it started outlives it.
#![cfg(feature = "browser")]

use std::collections::HashSet;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jitterbug::browser::{Browser, BrowserError, PageOutcome, PageRun, Source, run_page};
use jitterbug::clips;
use jitterbug::whip_client::{Trust, WhipClient};
use serde_json::Value;

const CLIP: &str = "arctic-a0009-slt";
/// The clip is about 3.5 s; the echo starts about 0.9 s after it ends and lasts as long.
const DURATION: Duration = Duration::from_secs(7);
const TAIL: Duration = Duration::from_secs(2);
const RATE: usize = 48_000;
/// 20 ms frames for energy detection.
const FRAME: usize = 960;
/// Frames louder than this (RMS, dBFS) count as speech.
const SPEECH_DBFS: f64 = -45.0;
const INBOUND_FIELDS: [&str; 15] = [
    "jitter",
    "packetsLost",
    "packetsReceived",
    "jitterBufferDelay",
    "jitterBufferTargetDelay",
    "jitterBufferEmittedCount",
    "concealedSamples",
    "silentConcealedSamples",
    "concealmentEvents",
    "insertedSamplesForDeceleration",
    "removedSamplesForAcceleration",
    "totalSamplesReceived",
    "fecPacketsReceived",
    "fecPacketsDiscarded",
    "audioLevel",
];

/// One browser at a time: they compete for two cores, and the process check below would see
/// another test's browser.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn clip_wav(pcm: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
    for &s in pcm {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
    bytes.into_inner()
}

/// `(pid, start time)` of every process descending from this test process, sampled every
/// 50 ms while `run` runs; a driver's browser is seen while it is still the driver's child,
/// so a browser orphaned later is still caught.
struct ProcessWatch {
    seen: Arc<Mutex<HashSet<(u32, u64, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProcessWatch {
    fn start() -> ProcessWatch {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    seen.lock().unwrap().extend(descendants());
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        ProcessWatch { seen, stop, thread: Some(thread) }
    }

    /// Stops sampling; returns what was seen and what of it is still alive.
    fn finish(mut self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        let seen = self.seen.lock().unwrap();
        let alive = seen
            .iter()
            .filter(|(pid, start, _)| stat(*pid).is_some_and(|s| s.start == *start && s.state != "Z"))
            .map(|(pid, _, comm)| format!("{pid} {comm}"))
            .collect();
        (seen.iter().map(|(_, _, comm)| comm.clone()).collect(), alive)
    }
}

struct Stat {
    comm: String,
    state: String,
    ppid: u32,
    start: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state(0) ppid(1) … starttime(19).
    Some(Stat { comm, state: f.first()?.to_string(), ppid: f.get(1)?.parse().ok()?, start: f.get(19)?.parse().ok()? })
}

fn descendants() -> Vec<(u32, u64, String)> {
    let all: Vec<(u32, Stat)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect();
    let mut family = HashSet::from([std::process::id()]);
    let mut out = Vec::new();
    loop {
        let before = family.len();
        for (pid, s) in &all {
            if family.contains(&s.ppid) && family.insert(*pid) {
                out.push((*pid, s.start, s.comm.clone()));
            }
        }
        if family.len() == before {
            return out;
        }
    }
}

/// What one run left: its outcome (`None` when it was cut short), the processes seen during it
/// and those of them still alive.
struct Run {
    outcome: Option<Result<PageOutcome, BrowserError>>,
    seen: Vec<String>,
    alive: Vec<String>,
}

/// Runs the page in `browser` against a fresh in-process echo agent, dropping the run if it
/// takes longer than `cut_after`.
async fn run(browser: Browser, source: Source, clip: &[i16], cut_after: Duration) -> Run {
    let preset = jitterbug_agent::presets::load("balanced-fec").unwrap();
    let agent = jitterbug_agent::serve(jitterbug_agent::AgentConfig::loopback(preset, "tok")).await.unwrap();
    let whip = WhipClient::new(&agent.url(), "tok", Trust::CaPem(agent.ca_pem().unwrap().to_string())).unwrap();
    let watch = ProcessWatch::start();
    let page = run_page(PageRun {
        browser,
        webdriver: None,
        whip,
        clip_wav: clip_wav(clip),
        duration: DURATION,
        tail: TAIL,
        source,
        ice_servers: Vec::new(),
        relay_only: false,
        trust: None,
        allow_red: false,
        stats_interval: Duration::from_millis(250),
        deadline: Duration::from_secs(60),
    });
    let outcome = tokio::time::timeout(cut_after, page).await.ok();
    let (seen, alive) = watch.finish();
    agent.shutdown().await;
    Run { outcome, seen, alive }
}

/// A complete run, which must succeed and leave no process behind.
async fn call(browser: Browser, source: Source) -> (PageOutcome, Vec<i16>) {
    let clip = clips::load(CLIP).unwrap();
    let run = run(browser, source, &clip.pcm, Duration::from_secs(120)).await;
    let outcome = run.outcome.expect("the run's own deadline ends it first").unwrap_or_else(|e| panic!("{e}"));
    assert!(!run.seen.is_empty(), "no process of the run was ever seen: the process check is blind");
    assert!(run.alive.is_empty(), "processes of the {browser} run still alive: {:?}", run.alive);
    eprintln!("{browser} {} {}: {:?}", outcome.browser_name, outcome.browser_version, outcome.timings);
    let r = &outcome.result;
    eprintln!(
        "connected {} ms, audio context {}, capture {}, negotiated {}, pair {}",
        r["connected_ms"], r["audio_context"], r["capture"], r["negotiated"], r["selected_pair"]
    );
    (outcome, clip.pcm.to_vec())
}

/// Per 20 ms frame: louder than [`SPEECH_DBFS`]?
fn speech_frames(pcm: &[i16]) -> Vec<bool> {
    pcm.chunks_exact(FRAME)
        .map(|f| {
            let energy = f.iter().map(|&s| (f64::from(s) / 32768.0).powi(2)).sum::<f64>() / FRAME as f64;
            10.0 * energy.max(1e-20).log10() > SPEECH_DBFS
        })
        .collect()
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    at.as_f64().unwrap_or_else(|| panic!("{} is not a number: {at}", path.join(".")))
}

/// What every browser that can make the call must show, whatever the source.
fn assert_call(o: &PageOutcome) {
    let r = &o.result;
    assert!(o.unsupported().is_none(), "{r:#}");
    assert!(!o.browser_version.is_empty(), "no browser version in the session capabilities");
    assert_eq!(r["errors"], Value::Array(Vec::new()), "page errors");

    // Connected, over a host pair on UDP, with Opus and without RED.
    let connected = num(r, &["connected_ms"]);
    assert!(connected > 0.0 && connected < 5000.0, "connected after {connected} ms");
    let ice: Vec<&str> = r["ice_states"].as_array().unwrap().iter().filter_map(|s| s[1].as_str()).collect();
    assert!(ice.iter().any(|s| *s == "connected" || *s == "completed"), "ICE states {ice:?}");
    assert_eq!(r["negotiated"]["codec"], "audio/opus", "{:#}", r["negotiated"]);
    assert_eq!(r["negotiated"]["red_negotiated"], false, "{:#}", r["negotiated"]);
    assert!(
        r["negotiated"]["fmtp_answer"].as_str().is_some_and(|f| f.contains("useinbandfec=1")),
        "{:#}",
        r["negotiated"]
    );
    assert_eq!(r["selected_pair"]["local_type"], "host", "{:#}", r["selected_pair"]);
    assert_eq!(r["selected_pair"]["protocol"], "udp", "{:#}", r["selected_pair"]);
    assert_eq!(r["constraints_ok"], true, "capture settings {:#}", r["capture_settings"]);

    // The stats series covers the call, with every inbound-rtp field once media flows.
    let stats = r["stats"].as_array().expect("a stats series");
    let expected = (DURATION + TAIL).as_millis() as usize / 250;
    assert!(stats.len() >= expected, "{} stats samples, expected at least {expected}", stats.len());
    let last = stats.last().unwrap();
    for field in INBOUND_FIELDS {
        assert!(last["inbound"][field].is_number(), "inbound-rtp {field} missing: {:#}", last["inbound"]);
    }
    let received_packets = num(last, &["inbound", "packetsReceived"]);
    let sent_packets = num(last, &["outbound", "packetsSent"]);
    // 50 packets a second for about 9 s, less the first sample's start.
    assert!(
        received_packets > 350.0 && sent_packets > 350.0,
        "packets received {received_packets}, sent {sent_packets}"
    );
    assert_eq!(num(last, &["inbound", "packetsLost"]), 0.0, "loss on loopback");

    // The recording has exactly the configured length; the received channel holds the echo:
    // speech that starts after the user's turn ended and lasts about as long.
    let frames = (DURATION + TAIL).as_secs_f64() as usize * RATE;
    assert_eq!(num(r, &["capture", "frames"]) as usize, frames);
    assert_eq!((o.sent.len(), o.received.len()), (frames, frames));
    let sent = speech_frames(&o.sent);
    let heard = speech_frames(&o.received);
    let user_end = sent.iter().rposition(|&s| s).expect("speech in the sent channel");
    let onset = heard.iter().position(|&s| s).expect("no speech energy in the received channel: no echo");
    let heard_frames = heard.iter().filter(|&&s| s).count();
    let sent_frames = sent.iter().filter(|&&s| s).count();
    assert!(
        onset > user_end,
        "received speech at {} ms, before the user's turn ended at {} ms",
        onset * 20,
        user_end * 20
    );
    assert!(heard_frames * 2 > sent_frames, "echo has {heard_frames} speech frames, the clip {sent_frames}");
    eprintln!("echo {} ms after the end of the user's speech", (onset - user_end) * 20);

    // The page closed its session; the trace was kept.
    assert_eq!(o.agent_sessions.len(), 1, "{:?}", o.agent_sessions);
    let session = &o.agent_sessions[0];
    assert!(session.deleted, "the session was not deleted at the agent");
    let trace = session.trace.as_ref().expect("the agent's trace");
    assert!(trace.conversation.answers_completed >= 1, "{:?}", trace.conversation);

    let t = &o.timings;
    for (name, ms) in [
        ("driver_ready", t.driver_ready_ms),
        ("session", t.session_ms),
        ("goto", t.goto_ms),
        ("page_run", t.page_run_ms),
        ("quit", t.quit_ms),
    ] {
        assert!(ms > 0.0, "{name} took {ms} ms");
    }
    let parts = t.driver_ready_ms + t.session_ms + t.goto_ms + t.page_run_ms + t.quit_ms;
    assert!(t.total_ms >= parts && t.total_ms < parts + 1000.0, "{t:?}");
    assert!(t.page_run_ms >= (DURATION + TAIL).as_millis() as f64, "{t:?}");
}

/// Web Audio source: ch0 starts with the clip's first sample, bit for bit (±2 LSB of float
/// round trips).
fn assert_sent_is_the_clip(o: &PageOutcome, clip: &[i16]) {
    let worst = o.sent.iter().zip(clip).map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs()).max().unwrap();
    assert!(worst <= 2, "sent channel differs from the clip by up to {worst} LSB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_calls_the_agent_and_hears_the_echo() {
    let _serial = SERIAL.lock().await;
    let (o, clip) = call(Browser::Chromium, Source::WebAudio).await;
    assert_eq!(o.browser_name, "chrome");
    assert_call(&o);
    assert_sent_is_the_clip(&o, &clip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_calls_the_agent_and_hears_the_echo() {
    let _serial = SERIAL.lock().await;
    let (o, clip) = call(Browser::Firefox, Source::WebAudio).await;
    assert_eq!(o.browser_name, "firefox");
    assert_call(&o);
    assert_sent_is_the_clip(&o, &clip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webkit_reports_unsupported_with_the_missing_api() {
    let _serial = SERIAL.lock().await;
    let (o, _) = call(Browser::Webkit, Source::WebAudio).await;
    let reason = o.unsupported().unwrap_or_else(|| panic!("expected unsupported: {:#}", o.result));
    assert!(reason.contains("RTCPeerConnection"), "{reason}");
    assert_eq!(o.result["missing"], serde_json::json!(["RTCPeerConnection"]), "{:#}", o.result);
    assert!(o.sent.is_empty() && o.received.is_empty());
    assert!(o.agent_sessions.is_empty(), "an unsupported browser opened a session");
}

/// Fake capture: the clip passes Chromium's voice processing, so ch0 is not the clip sample for
/// sample, but it starts with the call (the page reopens the capture at media start) and has
/// the clip's speech.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_fake_capture_sends_the_clip_through_the_microphone() {
    let _serial = SERIAL.lock().await;
    let (o, clip) = call(Browser::Chromium, Source::FakeCapture).await;
    assert_call(&o);
    let sent = speech_frames(&o.sent);
    let expected = speech_frames(&clip);
    let onset = sent.iter().position(|&s| s).expect("no speech in the sent channel") as i64;
    let clip_onset = expected.iter().position(|&s| s).unwrap() as i64;
    assert!(
        (onset - clip_onset).abs() <= 10,
        "sent speech starts at {} ms, the clip's at {} ms",
        onset * 20,
        clip_onset * 20
    );
    let (sent_frames, clip_frames) = (sent.iter().filter(|&&s| s).count(), expected.iter().filter(|&&s| s).count());
    assert!(
        sent_frames * 10 >= clip_frames * 8 && sent_frames * 10 <= clip_frames * 12,
        "{sent_frames} vs {clip_frames} speech frames"
    );
}

/// A run dropped mid-call (a caller's timeout, a panic) still stops the driver and the browser
/// it launched: they are killed as a process group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_mid_call_leaves_no_process_behind() {
    let _serial = SERIAL.lock().await;
    let clip = clips::load(CLIP).unwrap();
    let run = run(Browser::Chromium, Source::WebAudio, &clip.pcm, Duration::from_secs(4)).await;
    assert!(run.outcome.is_none(), "the run ended before it was cut: {:?}", run.outcome);
    assert!(run.seen.iter().any(|c| c == "chromedriver"), "{:?}", run.seen);
    assert!(run.seen.iter().filter(|c| c.starts_with("chrom") && *c != "chromedriver").count() > 1, "{:?}", run.seen);
    assert!(run.alive.is_empty(), "still alive after the run was dropped: {:?}", run.alive);
}
