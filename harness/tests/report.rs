//! `report.html`: self-contained (no network URLs, no scripts), a heatmap cell per
//! profile × preset, escaped text, the gate's verdict, and a size that scales with the run.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::gate::Gate;
use jitterbug::report::render;
use jitterbug_core::baseline::{Comparison, Row, Verdict};
use jitterbug_core::results::{ScenarioResult, Status};

const PROFILES: [&str; 2] = ["clean", "loss-random-10"];
const PRESETS: [&str; 2] = ["balanced-fec", "pcmu"];

/// A small real run, made once for all tests.
fn small_run() -> &'static [ScenarioResult] {
    static RUN: OnceLock<Vec<ScenarioResult>> = OnceLock::new();
    RUN.get_or_init(|| {
        let profiles: Vec<_> = PROFILES.iter().map(|p| Profiles::embedded().get(p).unwrap()).collect();
        let presets: Vec<_> = PRESETS.iter().map(|p| Presets::embedded().get(p).unwrap()).collect();
        let clips = [jitterbug::clips::load("arctic-a0009-slt").unwrap()];
        let r = common::simulate(&profiles, &presets, &clips, &[1], 4.0);
        assert_eq!(r.len(), 4);
        assert!(r.iter().all(|s| s.status == Status::Ok), "{r:?}");
        r
    })
}

fn run_json() -> serde_json::Value {
    serde_json::json!({
        "run_id": "2026-01-01T00-00-00Z",
        "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:00:10Z",
        "jitterbug_version": "0.1.0",
        "libopus_version": "libopus 1.5.2",
        "host": "ci-box",
        "command_line": ["jitterbug", "run", "--profiles", "clean,loss-random-10", "--out", "my dir"],
        "seeds": [1, 2],
        "scenarios": 4,
        "wall_seconds": 9.87
    })
}

/// The text of the first `<td ... data-cell="key" ...>` cell.
fn cell<'a>(html: &'a str, key: &str) -> &'a str {
    let at = html.find(&format!("data-cell=\"{key}\"")).unwrap_or_else(|| panic!("no cell {key}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</td>").unwrap();
    &html[start..end]
}

#[test]
fn self_contained_with_every_section() {
    let html = render(small_run(), Some(&run_json()), None, &[], &[]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("<svg"), "no inline chart");
    assert!(html.contains("<style>"));
    assert!(!html.contains("http://") && !html.contains("https://"), "network URL in the report");
    assert!(!html.to_ascii_lowercase().contains("<script"), "scripts in the report");
    assert!(!html.contains("<link") && !html.contains("<img") && !html.contains("@import"));
    for id in ["summary", "heatmaps", "latency", "kpi", "environment"] {
        assert!(html.contains(&format!("<h2 id=\"{id}\"")), "section {id} missing");
    }
    // One cell per profile × preset in each of the three heatmaps.
    for p in PROFILES {
        for q in PRESETS {
            let key = format!("data-cell=\"{p}|{q}\"");
            assert_eq!(html.matches(&key).count(), 3, "{key}");
        }
        // A legend entry per profile in the CDF chart.
        assert!(html.contains(&format!("{p} (n=2)")), "legend for {p}");
    }
    // Every scenario has a KPI row.
    for r in small_run() {
        assert!(html.contains(&format!("<td class=\"l\">{}</td>", r.id)), "{}", r.id);
    }
    // Environment from run.json, the command line quoted back.
    assert!(html.contains("libopus 1.5.2"));
    assert!(html.contains("ci-box"));
    assert!(html.contains("--out &#39;my dir&#39;"), "command line");
    assert!(html.contains("not gated"));
    assert!(html.contains("<td class=\"pass\">4</td>"), "ok count");
}

#[test]
fn heatmap_cells_are_the_mean_and_coloured() {
    let mut results = small_run().to_vec();
    // A second seed of one cell with a known STOI: the cell shows the mean of both.
    let mut extra = results[0].clone();
    extra.seed = 99;
    extra.id = format!("{}-99", extra.id);
    for d in [&mut extra.uplink, &mut extra.downlink].into_iter().flatten() {
        d.stoi = 0.5;
    }
    let (p, q) = (extra.profile.clone(), extra.preset.clone());
    let worst = |r: &ScenarioResult| r.uplink.as_ref().unwrap().stoi.min(r.downlink.as_ref().unwrap().stoi);
    let expected = (worst(&results[0]) + 0.5) / 2.0;
    results.push(extra);
    let html = render(&results, None, None, &[], &[]);
    assert_eq!(cell(&html, &format!("{p}|{q}")), format!("{expected:.3}"));
    // Fixed scale: STOI 1.0 is green (hue 120), 0.5 red (hue 0).
    let mut perfect = results[0].clone();
    perfect.profile = "perfect".into();
    for d in [&mut perfect.uplink, &mut perfect.downlink].into_iter().flatten() {
        d.stoi = 1.0;
        d.mouth_to_ear_p95_ms = 600.0;
    }
    let html = render(&[perfect], None, None, &[], &[]);
    let q = &results[0].preset;
    assert!(html.contains(&format!("data-cell=\"perfect|{q}\" style=\"background:hsl(120,")), "STOI 1.0 not green");
    let m2e = html.match_indices(&format!("data-cell=\"perfect|{q}\" style=\"background:hsl(0,")).count();
    assert_eq!(m2e, 1, "600 ms not red");
}

#[test]
fn escapes_text() {
    let mut r = small_run()[0].clone();
    r.profile = "evil<b>&\"x\"".into();
    r.id = "evil<b>&/id".into();
    let mut bad = small_run()[1].clone();
    bad.status = Status::Unsupported { reason: "needs <browser> & 'chrome'".into() };
    bad.uplink = None;
    bad.downlink = None;
    let html = render(&[r, bad], None, None, &[], &[]);
    assert!(!html.contains("<b>"), "unescaped markup");
    assert!(html.contains("evil&lt;b&gt;&amp;/id"));
    assert!(html.contains("evil&lt;b&gt;&amp;&quot;x&quot;"));
    assert!(html.contains("needs &lt;browser&gt; &amp; &#39;chrome&#39;"));
    assert!(html.contains("<td class=\"muted\">1</td>"), "unsupported count");
}

#[test]
fn gate_verdict_and_regressions_worst_first() {
    let row = |scenario: &str, metric: &str, verdict| Row { scenario: scenario.into(), metric: metric.into(), verdict };
    let reg = |e: f64, a: f64| Verdict::Regressed { expected: e, actual: a, tolerance: 0.01 };
    let comparison = Comparison {
        rows: vec![
            row("a/ok", "uplink.stoi", Verdict::Pass),
            row("b/slight", "uplink.stoi", reg(0.90, 0.88)),
            row("c/worst", "downlink.estoi", reg(0.90, 0.60)),
            row("d/gone", "*", Verdict::Missing),
            row("e/new", "*", Verdict::New),
        ],
    };
    let gate = Gate { comparisons: BTreeMap::from([("sim".to_string(), comparison)]), strict: false };
    let html = render(small_run(), None, Some(&gate), &[], &[]);
    assert!(html.contains("FAIL"), "failing gate not shown");
    let (worst, slight) = (html.find("c/worst").unwrap(), html.find("b/slight").unwrap());
    assert!(worst < slight, "regressions not worst first");
    assert!(html.contains("d/gone"), "missing scenario not listed");
    assert!(html.contains("1 regressed") || html.contains("2 regressed"));

    let pass = Gate {
        comparisons: BTreeMap::from([(
            "sim".to_string(),
            Comparison { rows: vec![row("a/ok", "uplink.stoi", Verdict::Pass)] },
        )]),
        strict: false,
    };
    let html = render(small_run(), None, Some(&pass), &[], &[]);
    assert!(html.contains("PASS") && !html.contains("FAIL"));
}

#[test]
fn kpi_thresholds_mark_cells() {
    let mut r = small_run()[0].clone();
    for d in [&mut r.uplink, &mut r.downlink].into_iter().flatten() {
        d.mouth_to_ear_p95_ms = 120.0;
        d.effective_loss = 0.0;
        d.concealment_ratio = 0.0;
        d.mos = 4.3;
    }
    let mut bad = r.clone();
    bad.id = "bad/one".into();
    bad.downlink.as_mut().unwrap().mouth_to_ear_p95_ms = 450.0;
    bad.downlink.as_mut().unwrap().mos = 2.9;
    let html = render(&[r, bad], None, None, &[], &[]);
    assert!(html.contains("<td class=\"y\">120</td>"));
    assert!(html.contains("<td class=\"n\">450</td>"), "p95 over 300 ms passes");
    assert!(html.contains("<td class=\"n\">2.90</td>"), "MOS under 3.5 passes");
    assert!(html.contains("<td class=\"fail\">2 fail</td>"));
    assert!(html.contains("1 of 2 scenarios miss at least one threshold"));
}

#[test]
fn size_scales_linearly_and_stays_small() {
    let base = small_run();
    let grow = |k: u64| -> Vec<ScenarioResult> {
        (0..k)
            .flat_map(|s| {
                base.iter().map(move |r| {
                    let mut r = r.clone();
                    r.seed = s + 1;
                    r.id = format!("{}/{}/{}/{}/{}/{}", r.profile, r.preset, r.clip, r.client, r.backend, s + 1);
                    r
                })
            })
            .collect()
    };
    let small = render(&grow(1), Some(&run_json()), None, &[], &[]).len();
    let big = render(&grow(48), Some(&run_json()), None, &[], &[]).len();
    let per = (big - small) as f64 / (47 * base.len()) as f64;
    assert!(small < 40_000, "small report {small} bytes");
    assert!(per > 50.0 && per < 1_500.0, "{per} bytes per extra scenario");
    // 768 scenarios stay well under 3 MB.
    assert!(small as f64 + 768.0 * per < 3e6);
    eprintln!("small report: {small} bytes; {per:.0} bytes per extra scenario");
}

#[test]
fn worst_calls_get_audio_captures_and_a_buffer_timeline_beside_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    jitterbug::store::write_json(&results, &jitterbug_core::results::Results::new(small_run().to_vec())).unwrap();
    let html_path = dir.path().join("report.html");
    let (profiles, presets) = (Profiles::embedded(), Presets::embedded());
    let media = jitterbug::evidence::Evidence { profiles: &profiles, presets: &presets, results_dir: dir.path() };
    jitterbug::report::write(small_run(), dir.path(), &html_path, None, &media).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    // The three lowest-STOI scenarios: re-simulated, their files next to the report.
    for k in 1..=3 {
        for f in ["reference.wav", "degraded.wav", "capture.pcap"] {
            let rel = format!("report-media/{k}-{f}");
            assert!(dir.path().join(&rel).is_file(), "{rel} missing");
            assert!(html.contains(&format!("\"{rel}\"")), "{rel} not linked");
        }
    }
    assert_eq!(html.matches("<audio controls").count(), 6);
    assert!(html.contains("aria-label=\"jitter buffer over time\""));
    // The worst is a loss-random-10 call, and its re-simulation concealed something.
    let worst = &html[html.find("id=\"worst\"").unwrap()..];
    assert!(worst.contains("loss-random-10/"), "worst calls start with a lossy one");
    assert!(worst.contains("fill=\"#e15759\" fill-opacity"), "concealment bars drawn");
}

#[test]
fn live_results_get_the_latency_budget_and_table_10_rates() {
    use jitterbug_core::results::{LiveInfo, Percentiles, StageTimes};
    let mut live = small_run()[0].clone();
    live.backend = jitterbug_core::identity::BackendKind::Live;
    live.id = live.id.replace("/sim/", "/live/");
    let m2e = live.uplink.as_ref().unwrap().mouth_to_ear_ms;
    live.live = Some(LiveInfo {
        setup_ms: Some(205.0),
        candidate_type: Some("relay".into()),
        turn_used: true,
        disconnects: 0,
        transit_uplink_ms: Some(Percentiles { p50: 20.0, p95: 22.0 }),
        transit_downlink_ms: Some(Percentiles { p50: 20.0, p95: 22.0 }),
        voice_to_voice_ms: vec![1050.0],
        voice_to_voice_median_ms: Some(1050.0),
        turns: 2,
        turns_answered: 2,
        stages_ms: Some(StageTimes { end_of_turn: 600.0, asr: 100.0, agent: 100.0, tts_first_audio: 80.0 }),
        ..Default::default()
    });
    let mut failed = live.clone();
    failed.id = failed.id.replace("/1", "/2");
    failed.seed = 2;
    failed.live = None;
    failed.uplink = None;
    failed.downlink = None;
    failed.status = Status::Error { reason: "not connected after 20s".into() };
    let html = render(&[live, failed], None, None, &[], &[]);
    let budget = &html[html.find("id=\"budget\"").expect("budget section")..];
    assert!(budget.contains("<title>ASR: 100 ms</title>"), "ASR stage bar");
    assert!(budget.contains(&format!("<title>buffer + decode up: {:.0} ms</title>", (m2e - 20.0).max(0.0))));
    assert!(budget.contains("measured voice-to-voice 1050 ms"));
    assert!(
        html.contains("<td class=\"l\">setup failure rate</td><td class=\"fail\">50.0 % (1 of 2)</td>"),
        "setup failures"
    );
    assert!(html.contains("<td class=\"l\">TURN usage rate</td><td>100.0 % (1 of 1)</td>"));
    assert!(html.contains("voice-to-voice p95</td><td class=\"fail\">1050 ms</td>"), "1050 ms is over 800");
    assert!(html.contains("<caption>Voice-to-voice, ms"), "voice-to-voice heatmap for live calls");
    assert!(!render(small_run(), None, None, &[], &[]).contains("<caption>Voice-to-voice"), "none for simulations");
}

/// The buffer section picks each profile's worst call and plots it, or says why it cannot.
#[test]
fn each_profile_gets_its_worst_calls_buffer_over_time() {
    use jitterbug::report::media::{MediaSource, worst_per_profile};
    use jitterbug_core::jitter_buffer::JbPoint;
    struct Source;
    impl MediaSource for Source {
        fn media(
            &self,
            _: &ScenarioResult,
            _: &str,
            _: &std::path::Path,
            _: &mut jitterbug::report::CallMedia,
        ) -> anyhow::Result<()> {
            Ok(())
        }
        fn timeline(&self, r: &ScenarioResult) -> anyhow::Result<Vec<JbPoint>> {
            anyhow::ensure!(r.profile == "clean", "no buffer for {}", r.profile);
            Ok((0..50)
                .map(|k| JbPoint {
                    t_ms: k * 100,
                    target_ms: 80.0,
                    level_ms: 60.0 + k as f64,
                    concealed: if k == 10 { 0.4 } else { 0.0 },
                    stretched: if k == 20 { 0.1 } else { 0.0 },
                })
                .collect())
        }
    }
    let run = small_run();
    let buffers = worst_per_profile(run, &Source);
    assert_eq!(
        buffers.iter().map(|b| b.profile.as_str()).collect::<Vec<_>>(),
        PROFILES,
        "one per profile, in run order"
    );
    for b in &buffers {
        let lowest = run
            .iter()
            .filter(|r| r.profile == b.profile)
            .map(|r| r.downlink.as_ref().unwrap().stoi)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(b.stoi, lowest, "{}: the call with the lowest downlink STOI", b.profile);
    }
    let html = render(run, None, None, &[], &buffers);
    let section = &html[html.find("id=\"buffer\"").expect("buffer section")..];
    assert_eq!(section.matches("<details>").count(), 2);
    assert_eq!(section.matches("<svg").count(), 1, "clean is plotted");
    assert!(
        section.contains("fill=\"#e15759\"") && section.contains("fill=\"#f28e2b\""),
        "concealment and stretch bars"
    );
    assert!(section.contains("No timeline: no buffer for loss-random-10"), "the reason when there is none");
    // A flat target is drawn as its two end points.
    let target = section.split("stroke=\"#4e79a7\"").nth(1).unwrap().split("points=\"").nth(1).unwrap();
    assert_eq!(target.split('"').next().unwrap().split(' ').count(), 2, "{target}");
}
