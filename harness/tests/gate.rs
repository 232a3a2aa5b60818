//! `jitterbug gate` / `bless`: pass on unchanged results, exit 1 on a regression, exit 2 on
//! missing scenarios or a truncated file; JUnit XML that re-parses.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{SMALL_MATRIX, jitterbug, stderr, stdout};

/// A small matrix's results, blessed into a fresh baseline directory.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = vec!["run", "--out", out.to_str().unwrap()];
    args.extend(SMALL_MATRIX);
    let o = jitterbug(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let golden = dir.path().join("golden");
    std::fs::create_dir_all(&golden).unwrap();
    let tolerances = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/tolerances.toml");
    std::fs::copy(tolerances, golden.join("tolerances.toml")).unwrap();
    let results = out.join("results.json");
    let o = jitterbug(&["bless", "--baseline", golden.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("blessed 4 scenarios"), "{}", stdout(&o));
    (dir, golden, results)
}

fn gate(golden: &Path, results: &Path, junit: Option<&Path>) -> Output {
    let mut args = vec!["gate", "--baseline", golden.to_str().unwrap(), "--results", results.to_str().unwrap()];
    if let Some(j) = junit {
        args.extend(["--junit", j.to_str().unwrap()]);
    }
    jitterbug(&args)
}

/// Rewrites the results with `edit` applied to the parsed JSON.
fn edited(results: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(results).unwrap()).unwrap();
    edit(&mut v);
    let path = results.with_file_name(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    path
}

#[test]
fn unchanged_results_pass() {
    let (dir, golden, results) = setup();
    let junit = dir.path().join("junit.xml");
    let o = gate(&golden, &results, Some(&junit));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root.children().find(|n| n.has_tag_name("testsuite")).expect("a testsuite");
    assert_eq!(suite.attribute("name"), Some("sim"));
    let cases = suite.children().filter(|n| n.has_tag_name("testcase")).count();
    assert!(cases > 4 * 20, "one case per scenario × metric, got {cases}");
    assert_eq!(suite.attribute("tests").and_then(|t| t.parse::<usize>().ok()), Some(cases));
    assert_eq!(suite.attribute("failures"), Some("0"));
    assert!(
        suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .all(|c| c.attribute("classname").is_some_and(|s| s.contains("/sim/1")))
    );
}

#[test]
fn a_worse_metric_fails_with_exit_1() {
    let (dir, golden, results) = setup();
    let worse = edited(&results, "worse.json", |v| {
        let s = &mut v["scenarios"][0]["uplink"]["stoi"];
        *s = serde_json::json!(s.as_f64().unwrap() - 0.01);
    });
    let junit = dir.path().join("junit.xml");
    let o = gate(&golden, &worse, Some(&junit));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("uplink.stoi"), "{}", stdout(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failures: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("failure")).collect();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].attribute("message").unwrap().contains("uplink.stoi"));
    // Within tolerance is not a regression.
    let close = edited(&results, "close.json", |v| {
        let s = &mut v["scenarios"][0]["uplink"]["stoi"];
        *s = serde_json::json!(s.as_f64().unwrap() + 0.00005);
    });
    assert_eq!(gate(&golden, &close, None).status.code(), Some(0));
    let changed_counter = edited(&results, "counter.json", |v| {
        let c = &mut v["scenarios"][1]["downlink"]["jitter_buffer"]["concealed_samples"];
        *c = serde_json::json!(c.as_u64().unwrap() + 1);
    });
    assert_eq!(gate(&golden, &changed_counter, None).status.code(), Some(1), "counters compare exactly");
}

#[test]
fn a_new_error_status_fails() {
    let (_dir, golden, results) = setup();
    let broken = edited(&results, "broken.json", |v| {
        v["scenarios"][2]["status"] = serde_json::json!("error");
        v["scenarios"][2]["reason"] = serde_json::json!("decoder crashed");
    });
    let o = gate(&golden, &broken, None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("error"), "{}", stdout(&o));
}

#[test]
fn missing_scenarios_and_truncated_files_exit_2() {
    let (_dir, golden, results) = setup();
    let partial = edited(&results, "partial.json", |v| {
        v["scenarios"].as_array_mut().unwrap().remove(0);
    });
    let o = gate(&golden, &partial, None);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).contains("MISSING"), "{}", stdout(&o));

    let bytes = std::fs::read(&results).unwrap();
    let truncated = results.with_file_name("truncated.json");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let o = gate(&golden, &truncated, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("truncated.json"), "{}", stderr(&o));
}

#[test]
fn blessing_accepts_a_change_and_says_so() {
    let (_dir, golden, results) = setup();
    let better = edited(&results, "better.json", |v| {
        v["scenarios"][0]["uplink"]["stoi"] = serde_json::json!(0.5);
    });
    assert_eq!(gate(&golden, &better, None).status.code(), Some(1));
    let o = jitterbug(&["bless", "--baseline", golden.to_str().unwrap(), "--results", better.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("uplink.stoi") && stdout(&o).contains("1 metrics/statuses changed"), "{}", stdout(&o));
    assert_eq!(gate(&golden, &better, None).status.code(), Some(0));
}

#[test]
fn strict_fails_on_scenarios_the_baseline_lacks() {
    let (_dir, golden, results) = setup();
    let extra = edited(&results, "extra.json", |v| {
        let mut s = v["scenarios"][0].clone();
        s["id"] = serde_json::json!("clean/balanced-fec/unblessed/native/sim/1");
        v["scenarios"].as_array_mut().unwrap().push(s);
    });
    let o = gate(&golden, &extra, None);
    assert_eq!(o.status.code(), Some(0), "a new scenario is reported, not failed: {}", stdout(&o));
    assert!(stdout(&o).contains("1 new scenarios"), "{}", stdout(&o));
    let mut args = vec!["gate", "--strict", "--baseline", golden.to_str().unwrap()];
    args.extend(["--results", extra.to_str().unwrap()]);
    let o = jitterbug(&args);
    assert_eq!(o.status.code(), Some(1), "--strict fails it: {}", stdout(&o));
    assert!(stdout(&o).contains("unblessed"), "{}", stdout(&o));
}

#[test]
fn another_buffer_asks_for_a_rebless_instead_of_listing_regressions() {
    let (_dir, golden, results) = setup();
    let other = edited(&results, "other.json", |v| {
        v["jitter_buffer"] = serde_json::json!("neteq-m999-1");
        v["scenarios"][0]["uplink"]["stoi"] = serde_json::json!(0.5);
    });
    let o = gate(&golden, &other, None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("re-bless: the caller's buffer changed") && out.contains("neteq-m999-1"), "{out}");
    assert!(!out.contains("uplink.stoi"), "one finding, not a wall of regressions: {out}");
    let o = jitterbug(&["bless", "--baseline", golden.to_str().unwrap(), "--results", other.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(gate(&golden, &other, None).status.code(), Some(0));
    let store: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden.join("baselines/sim.json")).unwrap()).unwrap();
    assert_eq!(store["jitter_buffer"], "neteq-m999-1");
    assert_eq!(store["harness_version"], env!("CARGO_PKG_VERSION"));
}
