//! `jitterbug replay`: a capture played through a preset's buffer reproduces what the
//! receiver of that call did, and bad captures are named with what was expected.

mod common;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use common::{jitterbug, read, stderr};
use serde_json::Value;

/// Calls long enough for the buffer to adapt, short enough to keep the suite quick.
const CALL_SECONDS: &str = "12";

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jb-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `sim` and returns its directory and result.
fn sim(dir: &Path, profile: &str, preset: &str, seed: &str) -> Value {
    let out = dir.join("sim");
    let o = jitterbug(&[
        "sim",
        "--profile",
        profile,
        "--preset",
        preset,
        "--seed",
        seed,
        "--call-seconds",
        CALL_SECONDS,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&out.join("result.json"))
}

/// The SSRC of the stream from `src_port` in the sim's capture, read back through replay's
/// own listing (a capture with two streams needs --ssrc).
fn ssrc_from(capture: &Path, src_port: u16) -> String {
    let o = jitterbug(&["replay", capture.to_str().unwrap(), "--out", "/nonexistent"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    let line = err
        .split("; ")
        .find(|s| s.contains(&format!(":{src_port} →")))
        .unwrap_or_else(|| panic!("no stream from port {src_port} listed in: {err}"));
    let at = line.find("SSRC 0x").expect("SSRC in listing") + 5;
    line[at..at + 10].to_string()
}

fn replay(args: &[&str]) -> Value {
    let o = jitterbug(args);
    assert!(o.status.success(), "replay {args:?}: {}", stderr(&o));
    let out = args.iter().position(|a| *a == "--out").map(|i| args[i + 1]).unwrap();
    json(&Path::new(out).join("replay.json"))
}

#[test]
fn a_sim_capture_replayed_with_its_preset_reproduces_the_receiver() {
    // Jitter, loss with FEC, duplicates and corruption: every path of the receiver.
    for (profile, preset, seed) in [
        ("jitter-high", "balanced-fec", "3"),
        ("duplicate-corrupt", "balanced-nofec", "2"),
        ("lossy-high-jitter", "robust", "1"),
    ] {
        let dir = temp(profile);
        let result = sim(&dir, profile, preset, seed);
        let capture = dir.join("sim/capture.pcap");
        for (direction, port, record) in
            [("downlink", 40_000, "downlink.rtpdump"), ("uplink", 50_000, "uplink.rtpdump")]
        {
            let ssrc = ssrc_from(&capture, port);
            let expected = &result[direction];
            // Payloads from the capture itself: the counters are the receiver's, to the sample.
            let out = dir.join(format!("{direction}-capture"));
            let r = replay(&[
                "replay",
                capture.to_str().unwrap(),
                "--preset",
                preset,
                "--ssrc",
                &ssrc,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(r["jitter_buffer"], expected["jitter_buffer"], "{profile} {direction}: counters");
            assert_eq!(r["stoi"], Value::Null, "no reference, no STOI");
            assert!(r["unavailable"]["stoi"].as_str().unwrap().contains("--reference"), "{}", r["unavailable"]);
            // Payloads and send times from the sender's record, the clip as reference: the
            // scores too, and what was played, byte for byte.
            let out = dir.join(format!("{direction}-record"));
            let record = dir.join("sim").join(record);
            let r = replay(&[
                "replay",
                capture.to_str().unwrap(),
                "--preset",
                preset,
                "--ssrc",
                &ssrc,
                "--payloads",
                record.to_str().unwrap(),
                "--reference",
                "arctic-a0009-slt",
                "--call-seconds",
                CALL_SECONDS,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(r["jitter_buffer"], expected["jitter_buffer"], "{profile} {direction}: counters");
            for (field, ours) in [("stoi", "stoi"), ("estoi", "estoi"), ("mouth_to_ear_ms", "mouth_to_ear_ms")] {
                assert_eq!(r[field], expected[ours], "{profile} {direction}: {field}");
            }
            let heard = if direction == "downlink" { "degraded.wav" } else { "degraded-uplink.wav" };
            assert!(
                read(&out.join("replayed.wav")) == read(&dir.join("sim").join(heard)),
                "{profile} {direction}: audio"
            );
        }
    }
}

#[test]
fn another_preset_on_the_same_capture_changes_only_the_receiver() {
    let dir = temp("presets");
    sim(&dir, "jitter-high", "balanced-fec", "3");
    let capture = dir.join("sim/capture.pcap");
    let ssrc = ssrc_from(&capture, 40_000);
    let [adaptive, fixed] = ["balanced-fec", "fixed-60"].map(|preset| {
        let out = dir.join(preset);
        replay(&[
            "replay",
            capture.to_str().unwrap(),
            "--preset",
            preset,
            "--ssrc",
            &ssrc,
            "--replacement",
            "arctic-a0009-slt",
            "--out",
            out.to_str().unwrap(),
        ])
    });
    assert_eq!(adaptive["stream"], fixed["stream"], "same packets");
    // A 60 ms fixed buffer on 400 ms of jitter drops most packets as late; NetEq adapts.
    let late = |r: &Value| r["jitter_buffer"]["packets_late"].as_u64().unwrap();
    assert!(late(&fixed) > 10 * late(&adaptive).max(10), "late: fixed {} adaptive {}", late(&fixed), late(&adaptive));
    assert!(adaptive["stoi"].as_f64().unwrap() > fixed["stoi"].as_f64().unwrap() + 0.2);
}

/// The sim's capture as a user's Wireshark would save it: pcapng, Ethernet, microseconds, a
/// day later than the sender's record.
fn as_foreign_pcapng(capture: &Path, to: &Path) {
    use pcap_file::DataLink;
    use pcap_file::pcap::PcapReader;
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    let bytes = read(capture);
    let mut r = PcapReader::new(&bytes[..]).unwrap();
    let mut w = PcapNgWriter::new(std::fs::File::create(to).unwrap()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 0, options: vec![] })
        .unwrap();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        frame.extend_from_slice(&p.data);
        let micros = (p.timestamp + std::time::Duration::from_secs(86_400)).as_micros() as u64;
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            // pcap-file writes the raw tick count: microseconds, pcapng's default unit.
            timestamp: std::time::Duration::from_nanos(micros),
            original_len: frame.len() as u32,
            data: Cow::Owned(frame),
            options: vec![],
        })
        .unwrap();
    }
}

#[test]
fn a_foreign_capture_replays_and_says_what_it_cannot_measure() {
    let dir = temp("foreign");
    let result = sim(&dir, "3g", "balanced-fec", "1");
    let foreign = dir.join("wireshark.pcapng");
    as_foreign_pcapng(&dir.join("sim/capture.pcap"), &foreign);
    let ssrc = ssrc_from(&foreign, 40_000);
    let out = dir.join("replay");
    let record = dir.join("sim/downlink.rtpdump");
    let r = replay(&[
        "replay",
        foreign.to_str().unwrap(),
        "--preset",
        "balanced-fec",
        "--ssrc",
        &ssrc,
        "--payloads",
        record.to_str().unwrap(),
        "--reference",
        "arctic-a0009-slt",
        "--call-seconds",
        CALL_SECONDS,
        "--out",
        out.to_str().unwrap(),
    ]);
    let sent = result["downlink"]["network"]["packets_delivered"].as_u64().unwrap();
    assert!(r["stream"]["packets"].as_u64().unwrap() >= sent, "every copy read from the pcapng: {}", r["stream"]);
    // The record's clock is a day away from the capture's: no mouth-to-ear, and why.
    assert_eq!(r["mouth_to_ear_ms"], Value::Null);
    let why = r["unavailable"]["mouth_to_ear_ms"].as_str().unwrap();
    assert!(why.contains("capture's clock") && why.contains("downlink.rtpdump"), "{why}");
    // Intelligibility still holds: the same arrivals, a tick grid of its own.
    let stoi = r["stoi"].as_f64().unwrap();
    let sim_stoi = result["downlink"]["stoi"].as_f64().unwrap();
    assert!((stoi - sim_stoi).abs() < 0.03, "replayed STOI {stoi}, the call's {sim_stoi}");
}

fn fails_with(args: &[&str], expect: &[&str]) {
    let o = jitterbug(args);
    assert_eq!(o.status.code(), Some(2), "{args:?} should fail: {}", stderr(&o));
    let err = stderr(&o);
    for e in expect {
        assert!(err.contains(e), "{args:?}: `{e}` not in: {err}");
    }
}

#[test]
fn bad_input_names_the_file_and_what_was_expected() {
    let dir = temp("bad");
    sim(&dir, "clean", "balanced-fec", "1");
    let capture = dir.join("sim/capture.pcap");
    let cap = capture.to_str().unwrap();
    let out = dir.join("out");
    let out = out.to_str().unwrap();

    let text = dir.join("notes.pcap");
    std::fs::write(&text, "hello, not a capture\n").unwrap();
    fails_with(&["replay", text.to_str().unwrap(), "--out", out], &["notes.pcap", "not a capture", "pcapng"]);

    let bytes = read(&capture);
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    fails_with(&["replay", cut.to_str().unwrap(), "--out", out], &["cut.pcap", "truncated after", "packets"]);

    // Only STUN-range datagrams (first byte 0): UDP, but no RTP.
    let stun = dir.join("stun.pcap");
    let datagrams: Vec<_> = (0..5)
        .map(|i| jitterbug::pcap::Datagram {
            at: std::time::Duration::from_millis(i * 20),
            src: jitterbug::pcap::CLIENT.into(),
            dst: jitterbug::pcap::AGENT.into(),
            bytes: vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            corrupted: false,
        })
        .collect();
    jitterbug::pcap::write(&stun, &datagrams, jitterbug::pcap::EPOCH).unwrap();
    fails_with(&["replay", stun.to_str().unwrap(), "--out", out], &["stun.pcap", "no RTP packets", "5 UDP datagrams"]);

    fails_with(
        &["replay", cap, "--ssrc", "0x12345678", "--out", out],
        &["capture.pcap", "no RTP stream with SSRC 0x12345678", "it has SSRC"],
    );
    fails_with(&["replay", cap, "--ssrc", "zz", "--out", out], &["expected an SSRC"]);
    fails_with(&["replay", cap, "--out", out], &["2 RTP streams", "--ssrc"]);

    let ssrc = ssrc_from(&capture, 40_000);
    let garbage = dir.join("garbage.rtpdump");
    std::fs::write(&garbage, [0u8; 40]).unwrap();
    fails_with(
        &["replay", cap, "--ssrc", &ssrc, "--payloads", garbage.to_str().unwrap(), "--out", out],
        &["garbage.rtpdump", "#!rtpplay1.0"],
    );
    // The uplink's record holds none of the downlink's packets.
    let other = dir.join("sim/uplink.rtpdump");
    fails_with(
        &["replay", cap, "--ssrc", &ssrc, "--payloads", other.to_str().unwrap(), "--out", out],
        &["uplink.rtpdump", "no packet of SSRC", "sender of the replayed stream"],
    );
    // A replacement clip needs the preset's frame size.
    fails_with(
        &["replay", cap, "--ssrc", &ssrc, "--preset", "low-latency", "--replacement", "arctic-a0009-slt", "--out", out],
        &["20 ms apart", "low-latency", "10 ms frames"],
    );
    assert!(!Path::new(out).join("replay.json").exists(), "nothing written on bad input");
}
