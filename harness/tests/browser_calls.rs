//! Real browsers through the impairment relay: Chromium and Firefox (over WebDriver) call the
//! reference agent on `clean`, `loss-random-5` and TURN over UDP, TCP and TLS (coturn, the
//! browser's own TURN client). Needs the browsers and drivers `scripts/deps.sh` installs; a missing one
//! fails the test with the install hint, it never skips.
#![cfg(feature = "browser")]

use std::time::Duration;

mod common;

use jitterbug::browser::Source;
use jitterbug::live::agent::AgentTarget;
use jitterbug::live::call::{CallOutput, CallSpec, NetworkPath, call as live_call};
use jitterbug::live::caller::{BrowserCaller, Caller};
use jitterbug::scenario::Scenario;
use jitterbug_core::identity::{Browser, Client};
use jitterbug_core::results::Status;
use serde_json::Value;

/// STOI floors: a clean path is near perfect; 5 % random loss with FEC stays intelligible.
const STOI_CLEAN: f64 = 0.9;
const STOI_LOSSY: f64 = 0.85;

/// Live calls run one at a time: concurrent calls on a small machine make the relay late
/// (and it would rightly mark the runs invalid).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn call(browser: Browser, profile: &str) -> CallOutput {
    call_via(browser, profile, None).await
}

async fn call_via(browser: Browser, profile: &str, webdriver: Option<String>) -> CallOutput {
    let (profile, preset, clip) = common::catalog(profile, "balanced-fec", "arctic-a0009-slt");
    let scratch = tempfile::tempdir().unwrap();
    let spec = CallSpec {
        scenario: Scenario {
            profile: &profile,
            preset: &preset,
            clip: &clip,
            seed: 1,
            client: Client::Browser(browser),
            call_seconds: 8.0,
        },
        caller: Caller::Browser(BrowserCaller { browser, webdriver, source: Source::WebAudio, allow_red: false }),
        agent: AgentTarget::InProcess,
        path: NetworkPath::Relay,
    };
    let o = live_call(spec, scratch.path()).await.expect("the browser call runs");
    eprint!("{}", common::describe(&o.result));
    assert_eq!(o.result.status, Status::Ok, "{:?}", o.result.status);
    o
}

/// The last getStats sample's inbound-rtp report.
fn last_inbound(o: &CallOutput) -> Value {
    let b = o.result.browser.as_ref().unwrap();
    b.stats.iter().rev().find_map(|s| s.get("inbound").filter(|v| !v.is_null()).cloned()).expect("inbound-rtp stats")
}

fn check(o: &CallOutput, floor: f64) {
    let live = o.result.live.as_ref().expect("live info");
    assert!(live.setup_ms.is_some_and(|ms| ms > 0.0), "connected");
    let (up, down) = (o.result.uplink.as_ref().expect("agent-side uplink score"), o.result.downlink.as_ref().unwrap());
    assert!(up.stoi >= floor && down.stoi >= floor, "STOI up {} down {} (floor {floor})", up.stoi, down.stoi);
    // Every getStats field the suite reports, present and numeric.
    let inbound = last_inbound(o);
    for f in jitterbug::compat::STATS_FIELDS {
        assert!(inbound.get(f).is_some_and(Value::is_number), "inbound-rtp {f} missing: {inbound}");
    }
    let b = o.result.browser.as_ref().unwrap();
    assert!(!b.version.is_empty());
    assert_eq!(b.negotiated["red_negotiated"], Value::Bool(false), "RED stays off unless allowed");
    let cycle = &b.cycle_ms;
    assert!(cycle["total_ms"].as_f64().unwrap() > cycle["page_run_ms"].as_f64().unwrap());
    // The relay saw the browser's media.
    assert!(live.relay_rtp_uplink > 300, "{live:?}");
}

async fn suite(browser: Browser) -> Vec<jitterbug_core::results::ScenarioResult> {
    let clean = call(browser, "clean").await;
    check(&clean, STOI_CLEAN);
    assert_eq!(last_inbound(&clean)["packetsLost"].as_f64(), Some(0.0), "no loss on clean");
    assert_eq!(clean.result.uplink.as_ref().unwrap().network.loss_rate, 0.0);

    let lossy = call(browser, "loss-random-5").await;
    check(&lossy, STOI_LOSSY);
    let lost = last_inbound(&lossy)["packetsLost"].as_f64().unwrap();
    let relay_lost = lossy.result.downlink.as_ref().unwrap().network.lost_loss_model as f64;
    assert!(lost > 0.0, "the browser saw no loss on loss-random-5");
    assert!(lost <= relay_lost + 1.0, "browser packetsLost {lost} > relay drops {relay_lost}");

    let relayed = call(browser, "nat-symmetric-turn").await;
    check(&relayed, STOI_CLEAN);
    let live = relayed.result.live.as_ref().unwrap();
    assert!(live.turn_used, "not relayed: {}", relayed.result.browser.as_ref().unwrap().selected_pair);

    let over_tcp = call(browser, "nat-symmetric-turn-tcp").await;
    check(&over_tcp, STOI_CLEAN);
    assert!(over_tcp.result.live.as_ref().unwrap().turn_used);
    let pair = &over_tcp.result.browser.as_ref().unwrap().selected_pair;
    assert_eq!(pair["relay_protocol"], "tcp", "{pair}");

    // coturn's TLS listener has a certificate from a throwaway CA the browser is told to trust
    // (Chromium: SPKI pin; Firefox: CA in its profile). Without that trust both fail ICE.
    let over_tls = call(browser, "nat-symmetric-turn-tls").await;
    check(&over_tls, STOI_CLEAN);
    assert!(over_tls.result.live.as_ref().unwrap().turn_used);
    let pair = &over_tls.result.browser.as_ref().unwrap().selected_pair;
    assert_eq!(pair["relay_protocol"], "tls", "{pair}");
    vec![clean.result, lossy.result, relayed.result, over_tcp.result, over_tls.result]
}

/// The compatibility matrix generated from a browser's runs says what they showed.
fn check_matrix(results: &[jitterbug_core::results::ScenarioResult]) {
    use jitterbug::compat::{Cell, matrix};
    let rows = matrix(results);
    assert_eq!(rows.len(), 1);
    eprint!("{}", jitterbug::compat::markdown(&rows));
    let yes = |f: &str| matches!(rows[0].cells[f], Cell::Yes(_));
    let features =
        ["capture constraints", "Opus FEC negotiated", "ptime", "stats available", "TURN/UDP", "TURN/TCP", "TURN/TLS"];
    for f in features {
        assert!(yes(f), "{f}: {:?}", rows[0].cells[f]);
    }
    assert!(matches!(rows[0].cells["DTX"], Cell::NotRun(_)), "no DTX preset was run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_suite() {
    let _serial = SERIAL.lock().await;
    check_matrix(&suite(Browser::Chromium).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_suite() {
    let _serial = SERIAL.lock().await;
    check_matrix(&suite(Browser::Firefox).await);
}

/// `--webdriver URL`: a driver somebody else started (here a chromedriver this test runs, as a
/// Grid node or safaridriver would be) carries the call, and the harness starts none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_webdriver_endpoint() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.path().join("chromedriver.log");
    // Killed by PID when the test ends, also when it fails.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let driver = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .spawn()
        .map(Killed)
        .expect("chromedriver (Debian chromium-driver, scripts/deps.sh)");
    let url = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "chromedriver did not open port {port}");
    let o = call_via(Browser::Chromium, "clean", Some(url)).await;
    drop(driver);
    check(&o, STOI_CLEAN);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("COMMAND InitSession"), "the external driver made no session:\n{log}");
    assert_eq!(log.matches("COMMAND InitSession").count(), 1);
}
