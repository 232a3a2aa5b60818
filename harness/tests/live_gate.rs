//! The live release gate: the native client and the browsers call the reference agent through
//! the relay on `clean`, `loss-random-5` and `nat-symmetric-turn`, and the results must sit
//! within the bands of `golden/live` — including the WebKit row's known gap, which passes only
//! while it stays the same gap.
#![cfg(feature = "browser")]

use std::path::Path;

use jitterbug::backend::{BrowserOptions, LiveBackend};
use jitterbug::cancel::Cancel;
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::gate::{Outcome, gate};
use jitterbug::live::agent::AgentTarget;
use jitterbug::runner::{Matrix, RunOptions, run};
use jitterbug_core::identity::{Browser, Client};
use jitterbug_core::results::Status;

#[test]
fn live_and_browser_calls_pass_the_golden_bands() {
    let profiles: Vec<_> =
        ["clean", "loss-random-5", "nat-symmetric-turn"].iter().map(|p| Profiles::new(None).get(p).unwrap()).collect();
    let presets = [Presets::new(None).get("balanced-fec").unwrap()];
    let clips = [jitterbug::clips::load("arctic-a0009-slt").unwrap()];
    let clients = [
        Client::Native,
        Client::Browser(Browser::Chromium),
        Client::Browser(Browser::Firefox),
        Client::Browser(Browser::Webkit),
    ];
    let out = tempfile::tempdir().unwrap();
    let cancel = Cancel::default();
    let backend = LiveBackend::new(
        AgentTarget::InProcess,
        BrowserOptions::default(),
        std::num::NonZeroUsize::MIN,
        cancel.clone(),
    )
    .unwrap();
    let matrix = Matrix {
        profiles: &profiles,
        presets: &presets,
        clips: &clips,
        clients: &clients,
        seeds: &[1],
        call_seconds: 8.0,
        shard: None,
    };
    let results =
        run(&backend, &matrix, &RunOptions { evidence: Some(out.path()), progress: false, cancel: &cancel }).unwrap();
    assert_eq!(results.len(), 12);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/live");

    let results = jitterbug_core::results::Results::new(results);
    let g = gate(&golden, &results, &[], false).unwrap();
    print!("{}", g.table());
    assert_eq!(g.outcome(), Outcome::Pass);
    let webkit = results.scenarios.iter().filter(|r| r.client == Client::Browser(Browser::Webkit)).collect::<Vec<_>>();
    assert_eq!(webkit.len(), 3);
    assert!(
        webkit
            .iter()
            .all(|r| matches!(&r.status, Status::Unsupported { reason } if reason.contains("RTCPeerConnection")))
    );

    // The known gap passes only as that gap: an error in its place fails the gate…
    let mut changed = results.clone();
    let w = changed.scenarios.iter_mut().find(|r| r.client == Client::Browser(Browser::Webkit)).unwrap();
    w.status = Status::Error { reason: "WebDriver session failed".into() };
    assert_eq!(gate(&golden, &changed, &[], false).unwrap().outcome(), Outcome::Regressed);
    // …and a browser call that did not happen is incomplete evidence, never a pass.
    let mut missing = results.clone();
    missing.scenarios.retain(|r| !(r.client == Client::Browser(Browser::Firefox) && r.profile == "loss-random-5"));
    assert_eq!(gate(&golden, &missing, &[], false).unwrap().outcome(), Outcome::Incomplete);
}
