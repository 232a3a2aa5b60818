//! The HTML report renders in headless Chromium: a screenshot that is not blank. Needs the
//! `browser` feature (on in `make test`) and Chromium (installed by `scripts/deps.sh`); without
//! Chromium it fails, it never skips.
#![cfg(feature = "browser")]

mod common;

use std::process::Command;

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;

#[test]
fn report_renders_in_headless_chromium() {
    let profiles: Vec<_> =
        ["clean", "loss-random-10", "jitter-high"].iter().map(|n| Profiles::embedded().get(n).unwrap()).collect();
    let presets: Vec<_> = ["balanced-fec", "pcmu"].iter().map(|n| Presets::embedded().get(n).unwrap()).collect();
    let clip = clips::load("arctic-a0009-slt").unwrap();
    let results = common::simulate(&profiles, &presets, &[clip], &[1], 6.0);
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    std::fs::write(&html, jitterbug::report::render(&results, None, None, &[], &[])).unwrap();
    let png = dir.path().join("shot.png");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args(["--disable-sync", "--no-first-run", "--hide-scrollbars", "--window-size=1280,1400"])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium must be installed for the browser suite (scripts/deps.sh installs it)");
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    // A blank 1280×1400 page compresses to a few kB; tables, colours and charts do not.
    let size = std::fs::metadata(&png).unwrap().len();
    assert!(size > 40_000, "screenshot of {size} bytes looks blank");
}
