//! The `jitterbug` command line, as users and CI scripts call it.

mod common;

use std::path::Path;
use std::process::Output;

use common::{SMALL_MATRIX, jitterbug, read, stderr, stdout};

const INTERFACE_NAMES: [&str; 7] =
    ["clean", "loss-random-5", "loss-random-10", "loss-burst-ge", "jitter-high", "blackout-3s", "nat-symmetric-turn"];

#[test]
fn list_shows_the_interface_profiles() {
    let o = jitterbug(&["profiles", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for name in INTERFACE_NAMES {
        assert!(out.lines().any(|l| l.split_whitespace().next() == Some(name)), "{name} missing from:\n{out}");
    }
}

#[test]
fn sample_json_has_configured_and_measured() {
    let args = ["profiles", "sample", "loss-burst-ge", "--packets", "200000", "--seed", "3", "--json"];
    let o = jitterbug(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    for side in ["configured", "measured"] {
        for key in [
            "loss_rate",
            "mean_burst",
            "delay_ms_p50",
            "delay_ms_p95",
            "delay_ms_p99",
            "reorder_rate",
            "duplicate_rate",
        ] {
            assert!(v[side].get(key).is_some(), "{side}.{key} missing in {v}");
        }
    }
    let (want, got) = (v["configured"]["loss_rate"].as_f64().unwrap(), v["measured"]["loss_rate"].as_f64().unwrap());
    assert!((want - got).abs() < 0.005, "loss {want} vs {got}");
    assert_eq!(v["seed"], 3);
    // Same seed, same output, byte for byte.
    assert_eq!(o.stdout, jitterbug(&args).stdout);
}

#[test]
fn sample_accepts_a_path_and_the_downlink() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "description = \"d\"\nsource = \"s\"\n[downlink.loss]\nmodel = \"random\"\npercent = 50\n")
        .unwrap();
    let o = jitterbug(&["profiles", "sample", file.to_str().unwrap(), "--direction", "downlink", "--packets", "10000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("mine (downlink)"), "{}", stdout(&o));
}

#[test]
fn malformed_profile_is_named_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "description = \"d\"\nsource = \"s\"\n\n[uplink.loss]\nmodel = \"random\"\npercent = 140\n")
        .unwrap();
    let o = jitterbug(&["profiles", "sample", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("broken.toml") && err.contains("line 6") && err.contains("percent") && err.contains("140"),
        "{err}"
    );
}

#[test]
fn unknown_profile_lists_the_known_ones() {
    let o = jitterbug(&["profiles", "show", "no-such-profile"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no-such-profile") && err.contains("loss-random-5"), "{err}");
}

#[test]
fn check_reports_every_invalid_profile() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), "description = \"d\"\nsource = \"s\"\n").unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "description = \"d\"\nsource = \"s\"\n[both.loss]\nmodel = \"random\"\np13 = 3\n",
    )
    .unwrap();
    let o = jitterbug(&["--profiles-dir", dir.path().to_str().unwrap(), "profiles", "check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("ok      good"), "{out}");
    assert!(out.contains("INVALID bad") && out.contains("both.loss.p13"), "{out}");
    assert!(jitterbug(&["profiles", "check"]).status.success(), "shipped profiles must be valid");
}

#[test]
fn show_prints_the_file_and_expectations() {
    let o = jitterbug(&["profiles", "show", "blackout-3s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("blackout = true") && out.contains("# Expected for a voice stream"), "{out}");
}

#[test]
fn run_writes_results_and_replays_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let mut args = vec!["run", "--out", out.to_str().unwrap(), "--seeds", "9"];
        args.extend(SMALL_MATRIX);
        let o = jitterbug(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let results = read(&a.join("results.json"));
    assert_eq!(results, read(&b.join("results.json")), "same seed must give byte-identical results.json");
    let v: serde_json::Value = serde_json::from_slice(&results).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["jitter_buffer"], jitterbug_core::jitter_buffer::BUFFER_VERSION);
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 4);
    for s in scenarios {
        assert_eq!(s["seed"], 9);
        assert_eq!(s["status"], "ok");
        let id = s["id"].as_str().unwrap();
        assert!(id.ends_with("/arctic-a0009-slt/native/sim/9"), "{id}");
        for dir in ["uplink", "downlink"] {
            for key in ["stoi", "estoi", "mouth_to_ear_ms", "r_factor", "mos", "concealment_ratio", "effective_loss"] {
                assert!(s[dir][key].is_number(), "{id} {dir}.{key}");
            }
            assert!(s[dir]["jitter_buffer"]["jitter_buffer_emitted_count"].as_u64().unwrap() > 0);
        }
    }
    let run: serde_json::Value = serde_json::from_slice(&read(&a.join("run.json"))).unwrap();
    assert!(run["command_line"].as_array().unwrap().iter().any(|a| a == "--seeds"));
    let html = String::from_utf8(read(&a.join("report.html"))).unwrap();
    assert!(
        html.contains("<svg") && html.contains("clean") && !html.contains("https://"),
        "run writes a self-contained report"
    );
    // `jitterbug report` renders the same file on demand.
    let again = dir.path().join("again.html");
    let o = jitterbug(&["report", a.join("results.json").to_str().unwrap(), "-o", again.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8(read(&again)).unwrap().contains("<svg"));
    assert!(run["libopus_version"].as_str().unwrap().contains("libopus"));
}

#[test]
fn run_without_out_links_latest() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let mut args = vec!["run", "--reports-dir", reports.to_str().unwrap()];
    args.extend(SMALL_MATRIX);
    let o = jitterbug(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let latest = reports.join("latest");
    assert!(latest.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(latest.join("results.json").exists());
}

#[test]
fn verify_samples_every_profile() {
    let o = jitterbug(&["profiles", "verify", "--packets", "200000", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON verdicts");
    let names = stdout(&jitterbug(&["profiles", "list"]));
    assert_eq!(v.as_array().unwrap().len(), names.lines().count());
    assert!(v[0]["uplink"]["configured"]["loss_rate"].is_number());
}

fn sim(out: &Path, seed: &str) -> Output {
    jitterbug(&[
        "sim",
        "--profile",
        "loss-random-10",
        "--preset",
        "balanced-fec",
        "--clip",
        "arctic-a0009-slt",
        "--seed",
        seed,
        "--call-seconds",
        "6",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn sim_writes_everything_and_replays_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    for (out, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let o = sim(out, seed);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for f in ["result.json", "capture.pcap", "degraded.wav", "degraded-uplink.wav"] {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f} differs between runs with the same seed");
    }
    assert_ne!(read(&a.join("capture.pcap")), read(&c.join("capture.pcap")), "another seed, another loss pattern");
    let r: serde_json::Value = serde_json::from_slice(&read(&a.join("result.json"))).unwrap();
    assert_eq!(r["id"], "loss-random-10/balanced-fec/arctic-a0009-slt/native/sim/5");
    assert_eq!(r["status"], "ok");
    // No wall-clock data in result.json: that lives in run.json.
    let run: serde_json::Value = serde_json::from_slice(&read(&a.join("run.json"))).unwrap();
    assert!(run["started"].is_string() && r.get("started").is_none());

    // The capture opens with a pcap reader and holds what the result says was delivered.
    let file = std::fs::File::open(a.join("capture.pcap")).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    assert_eq!(reader.header().datalink, pcap_file::DataLink::IPV4);
    let mut packets = 0u64;
    let mut last = std::time::Duration::ZERO;
    while let Some(p) = reader.next_packet() {
        let p = p.expect("a readable packet");
        assert!(p.timestamp >= last, "capture in time order");
        last = p.timestamp;
        assert_eq!(p.data[0] >> 4, 4, "IPv4");
        assert_eq!(p.data[28] >> 6, 2, "RTP version 2 after IP and UDP headers");
        packets += 1;
    }
    let delivered = |d: &str| {
        r[d]["network"]["packets_delivered"].as_u64().unwrap() + r[d]["network"]["duplicates"].as_u64().unwrap()
    };
    assert_eq!(packets, delivered("uplink") + delivered("downlink"));
}

#[test]
fn score_aligns_and_reports_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = sim(&dir.path().join("s"), "1");
    assert!(o.status.success(), "{}", stderr(&o));
    // The reference is the clip itself; the degraded file is the first seconds of the call.
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/speech/arctic-a0009-slt.wav");
    let o = jitterbug(&[
        "score",
        "--reference",
        reference.to_str().unwrap(),
        "--degraded",
        dir.path().join("s/degraded.wav").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["stoi", "estoi", "delay_samples", "delay_ms", "sample_rate"] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    assert_eq!(v["sample_rate"], 48_000);
    assert!(v["delay_ms"].as_f64().unwrap() > 20.0, "the call has at least one frame of delay: {v}");
    assert!(v["stoi"].as_f64().unwrap() > 0.8, "{v}");
}

#[test]
fn score_names_a_bad_wav() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-audio.wav");
    std::fs::write(&bad, b"RIFF nonsense").unwrap();
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/speech/arctic-a0009-slt.wav");
    let o = jitterbug(&["score", "--reference", reference.to_str().unwrap(), "--degraded", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not-audio.wav"), "{}", stderr(&o));
}

#[test]
fn presets_are_listed_and_shown() {
    let out = stdout(&jitterbug(&["presets", "list"]));
    for name in ["balanced-fec", "balanced-nofec", "low-latency", "robust", "pcmu"] {
        assert!(out.lines().any(|l| l.split_whitespace().next() == Some(name)), "{name} missing:\n{out}");
    }
    let show = stdout(&jitterbug(&["presets", "show", "robust"]));
    assert!(show.contains("strategy = \"aggressive\"") && show.contains("frame_ms = 40"), "{show}");
}

#[test]
fn help_explains_the_commands() {
    let out = stdout(&jitterbug(&["--help"]));
    for cmd in ["profiles", "run"] {
        assert!(out.contains(cmd), "{out}");
    }
    let out = stdout(&jitterbug(&["profiles", "sample", "--help"]));
    assert!(out.contains("--seed") && out.contains("configured") || out.contains("expectation"), "{out}");
}

#[test]
fn shards_merge_into_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, shard: Option<&str>| {
        let out = dir.path().join(name);
        let mut args = vec!["run", "--out", out.to_str().unwrap()];
        args.extend(SMALL_MATRIX);
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let o = jitterbug(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        out.join("results.json")
    };
    let full = run("full", None);
    let (a, b) = (run("a", Some("1/2")), run("b", Some("2/2")));
    let count = |p: &Path| {
        serde_json::from_slice::<serde_json::Value>(&read(p)).unwrap()["scenarios"].as_array().unwrap().len()
    };
    assert_eq!(count(&a) + count(&b), 4, "every scenario in exactly one shard");
    let merged = dir.path().join("merged.json");
    let o = jitterbug(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "-o", merged.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Compare as text so a failure shows the first differing line, not a byte dump.
    let (m, f) = (String::from_utf8(read(&merged)).unwrap(), String::from_utf8(read(&full)).unwrap());
    let first_diff = m.lines().zip(f.lines()).find(|(a, b)| a != b);
    assert!(m == f, "merged shards differ from the unsharded run: {first_diff:?}");
    let o = jitterbug(&["run", "--shard", "3/2", "--profiles", "clean"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("K/N"), "{}", stderr(&o));
}

#[test]
fn sim_full_stack_writes_stack_stats_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let o = jitterbug(&[
            "sim",
            "--full-stack",
            "--profile",
            "loss-random-5",
            "--preset",
            "balanced-fec",
            "--clip",
            "arctic-a0009-slt",
            "--call-seconds",
            "6",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(
        read(&a.join("result.json")),
        read(&b.join("result.json")),
        "DTLS keys differ per run; results must not"
    );
    assert_eq!(read(&a.join("full-stack.json")), read(&b.join("full-stack.json")));
    let r: serde_json::Value = serde_json::from_slice(&read(&a.join("result.json"))).unwrap();
    assert_eq!(r["id"], "loss-random-5/balanced-fec/arctic-a0009-slt/native/sim-full-stack/1");
    let fs: serde_json::Value = serde_json::from_slice(&read(&a.join("full-stack.json"))).unwrap();
    assert!(fs["setup_ms"].as_f64().unwrap() > 0.0);
    assert!(fs["srtp_overhead_bytes_per_packet"].as_f64().unwrap() > 0.0);
    assert!(!a.join("capture.pcap").exists(), "SRTP is encrypted: no capture in full-stack mode");
}
