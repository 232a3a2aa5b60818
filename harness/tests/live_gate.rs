//! The live release gate: the native client and the browsers call the reference agent through
//! the relay on `clean`, `loss-random-5` and `nat-symmetric-turn`, and the results must sit
//! within the bands of `golden/live` — including the WebKit row's known gap, which passes only
//! while it stays the same gap.
#![cfg(feature = "browser")]

use std::path::Path;

use jitterbug::browser::Browser;
use jitterbug::call_cmd::{Caller, LiveBackend, run_live_matrix};
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::gate_cmd::{Outcome, gate};
use jitterbug::run_cmd::Sweep;
use jitterbug_core::results::Status;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_browser_calls_pass_the_golden_bands() {
    let profiles: Vec<_> =
        ["clean", "loss-random-5", "nat-symmetric-turn"].iter().map(|p| Profiles::new(None).get(p).unwrap()).collect();
    let presets = [Presets::new(None).get("balanced-fec").unwrap()];
    let clips = [jitterbug::clips::load("arctic-a0009-slt").unwrap()];
    let callers = [
        Caller::Native,
        Caller::Browser(Browser::Chromium),
        Caller::Browser(Browser::Firefox),
        Caller::Browser(Browser::Webkit),
    ];
    let out = tempfile::tempdir().unwrap();
    let sweep = Sweep::new(&[1], 8.0);
    let results =
        run_live_matrix(&profiles, &presets, &clips, &callers, &sweep, None, LiveBackend::Relay, out.path(), 1)
            .await
            .unwrap();
    assert_eq!(results.len(), 12);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/live");

    let g = gate(&golden, &results, &[]).unwrap();
    print!("{}", g.table());
    assert_eq!(g.outcome(), Outcome::Pass);
    let webkit = results.iter().filter(|r| r.client == "webkit").collect::<Vec<_>>();
    assert_eq!(webkit.len(), 3);
    assert!(
        webkit
            .iter()
            .all(|r| matches!(&r.status, Status::Unsupported { reason } if reason.contains("RTCPeerConnection")))
    );

    // The known gap passes only as that gap: an error in its place fails the gate…
    let mut changed = results.clone();
    let w = changed.iter_mut().find(|r| r.client == "webkit").unwrap();
    w.status = Status::Error { reason: "WebDriver session failed".into() };
    assert_eq!(gate(&golden, &changed, &[]).unwrap().outcome(), Outcome::Regressed);
    // …and a browser call that did not happen is incomplete evidence, never a pass.
    let mut missing = results.clone();
    missing.retain(|r| !(r.client == "firefox" && r.profile == "loss-random-5"));
    assert_eq!(gate(&golden, &missing, &[]).unwrap().outcome(), Outcome::Incomplete);
}
