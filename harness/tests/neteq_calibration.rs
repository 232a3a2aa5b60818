//! Our jitter buffer against the real NetEq: Chromium calls the reference agent through the
//! relay, and the downlink packets it received (arrival times from the relay's capture,
//! payloads from the agent's plaintext record) are replayed through our buffer, so both
//! receivers judge the same packets over the same span. Calibrated on four profiles (60 s
//! calls), validated untouched on two more. Needs Chromium (`scripts/deps.sh`); fails, never
//! skips, without it. Writes the table the README shows to `target/neteq-calibration.md`.
#![cfg(feature = "browser")]

mod common;

use std::path::Path;

use jitterbug::browser::Source;
use jitterbug::calibration::{self, Bands, BufferFigures, Comparison, Receiver, Role, Uplink};
use jitterbug::live::agent::AgentTarget;
use jitterbug::live::call::{CallSpec, NetworkPath, call};
use jitterbug::live::caller::{BrowserCaller, Caller, CallerRecord};
use jitterbug::replay::{Payloads, Request, Until, replay};
use jitterbug::scenario::Scenario;
use jitterbug_core::identity::{Browser, Client};
use jitterbug_core::results::Status;

/// The profiles the port was calibrated on (60 s calls), and the ones it is validated on.
const CALIBRATION: [(&str, f64); 4] =
    [("jitter-high", 60.0), ("3g", 60.0), ("wifi-high-loss", 60.0), ("handover-spikes", 60.0)];
const VALIDATION: [(&str, f64); 2] = [("satellite", 30.0), ("lossy-high-jitter", 30.0)];
const PRESET: &str = "balanced-fec";

fn calibrated_major() -> u32 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/calibration/chromium-neteq.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["chromium_major"].as_integer().unwrap_or_else(|| panic!("{}: chromium_major", path.display())) as u32
}

async fn compare(profile_name: &str, seconds: f64, role: Role) -> Comparison {
    let (profile, preset, clip) = common::catalog(profile_name, PRESET, "arctic-a0009-slt");
    let scratch = tempfile::tempdir().unwrap();
    let spec = CallSpec {
        scenario: Scenario {
            profile: &profile,
            preset: &preset,
            clip: &clip,
            seed: 1,
            client: Client::Browser(Browser::Chromium),
            call_seconds: seconds,
        },
        caller: Caller::Browser(BrowserCaller {
            browser: Browser::Chromium,
            webdriver: None,
            source: Source::WebAudio,
            allow_red: false,
        }),
        agent: AgentTarget::InProcess,
        path: NetworkPath::Relay,
    };
    let o = call(spec, scratch.path()).await.expect("the Chromium call runs");
    eprint!("{}", common::describe(&o.result));
    assert_eq!(o.result.status, Status::Ok, "{profile_name}: {:?}", o.result.status);
    let browser = o.result.browser.as_ref().expect("browser info");
    let major: u32 = browser.version.split('.').next().and_then(|m| m.parse().ok()).expect("Chromium's version");
    let calibrated = calibrated_major();
    assert_eq!(
        major, calibrated,
        "Chromium {major}, calibrated on {calibrated}: re-calibrate (golden/calibration/chromium-neteq.toml says how)"
    );
    let CallerRecord::Browser(Some(page)) = &o.caller else { panic!("{profile_name}: the page reported nothing") };
    let chromium = BufferFigures::from_get_stats(&browser.stats).expect("Chromium's inbound-rtp stats");

    // The downlink as the browser received it, through our buffer, up to its last getStats.
    let dir = scratch.path();
    let capture = dir.join("capture.pcap");
    jitterbug::pcap::write(&capture, &o.relay.capture, std::time::Duration::from_nanos(o.relay.started_unix_ns))
        .unwrap();
    let sent = o.agent_sent.as_ref().expect("the agent's record of what it sent");
    let record = dir.join("downlink.rtpdump");
    std::fs::write(&record, sent.to_bytes()).unwrap();
    let ssrc = u32::from_be_bytes(sent.records[0].packet[8..12].try_into().unwrap());
    // The agent's recording of what it sent starts at its session's zero; the reference starts
    // with the stream's first packet.
    let trace = o.trace.as_ref().expect("the agent's trace");
    let wav = jitterbug::clips::load(dir.join("agent").join(format!("{}.downlink.wav", trace.id)).to_str().unwrap())
        .expect("the agent's downlink recording");
    let first = (sent.records[0].offset_ms as usize * 48).min(wav.pcm.len());
    let reference =
        jitterbug::clips::Clip { name: "agent-downlink".into(), pcm: std::sync::Arc::new(wav.pcm[first..].to_vec()) };
    let ours = replay(&Request {
        capture: &capture,
        preset: &preset,
        ssrc: Some(ssrc),
        payloads: Payloads::Record(record),
        reference: Some(reference),
        until: Some(Until::At(calibration::last_sample_unix(&page.result).expect("the page's last getStats time"))),
    })
    .expect("the downlink replays");
    let r = &ours.result;
    Comparison {
        profile: profile_name.into(),
        role,
        chromium_version: browser.version.clone(),
        call_seconds: seconds,
        loss_free: r.stream.lost == 0,
        lost_share: (r.stream.lost * preset.codec.frame_samples() as u64) as f64
            / r.jitter_buffer.total_samples_received.max(1) as f64,
        chromium: Receiver { figures: chromium, stoi: o.result.downlink.as_ref().expect("downlink scored").stoi },
        ours: Receiver {
            figures: BufferFigures::from_replay(r),
            stoi: r.stoi.expect("STOI against the agent's audio"),
        },
        uplink: Uplink::of(o.result.uplink.as_ref().expect("uplink scored from the agent's recording")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_buffer_matches_chromiums_neteq_on_the_same_downlink() {
    let mut rows = Vec::new();
    let roles =
        CALIBRATION.map(|p| (p, Role::Calibration)).into_iter().chain(VALIDATION.map(|p| (p, Role::Validation)));
    for ((profile, seconds), role) in roles {
        rows.push(compare(profile, seconds, role).await);
    }
    let table = calibration::table(&rows);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/neteq-calibration.md");
    let _ = std::fs::write(&out, format!("Chromium {}\n\n{table}", rows[0].chromium_version));
    eprintln!("Chromium {}\n{table}", rows[0].chromium_version);
    let failures: Vec<String> = rows.iter().flat_map(|r| r.failures(&Bands::default())).collect();
    assert!(failures.is_empty(), "outside the calibration bands:\n{}", failures.join("\n"));
    assert!(rows.iter().any(|r| r.loss_free), "the STOI band was applied to at least one loss-free call");
}
