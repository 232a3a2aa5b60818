//! `jitterbug replay`: a capture's RTP stream through a preset's jitter buffer.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use jitterbug::catalog::Presets;
use jitterbug::clips;
use jitterbug::replay::{Payloads, Replay, Request, Until};
use jitterbug_core::replay_result::ReplayResult;

use crate::args::positive_seconds;

/// What would preset P have done on this call? Plays the RTP arrivals recorded in a capture
/// (pcap or pcapng: one of ours, or one taken with tcpdump or Wireshark) through the preset's
/// jitter buffer and decoder on a 10 ms tick, as libwebrtc's neteq_rtpplay does. Writes
/// replay.json (buffer counters, stretch and concealment shares, target delay, the buffer
/// over time) and replayed.wav into --out.
///
/// Arrival times and RTP headers come from the capture. Payloads come from the capture when
/// it is plain RTP, else (SRTP hides them) from the sender's plaintext record (--payloads;
/// `jitterbug sim` writes uplink.rtpdump and downlink.rtpdump, the reference agent
/// <id>.downlink.rtpdump beside its recordings), or from a clip encoded with the preset at
/// each packet's timestamp (--replacement). STOI needs the sent audio (--reference, or the
/// replacement clip itself); mouth-to-ear needs send times on the capture's clock (a record).
/// What cannot be measured is null in replay.json, with the reason.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The capture (pcap or pcapng).
    #[arg(value_name = "CAPTURE")]
    capture: PathBuf,
    /// The settings to replay with (their jitter buffer and decoder).
    #[arg(long, default_value = "balanced-fec")]
    preset: String,
    /// The RTP stream (hex 0x… or decimal); needed when the capture holds more than one.
    #[arg(long, value_parser = parse_ssrc, value_name = "SSRC")]
    ssrc: Option<u32>,
    /// Take payloads and send times from the sender's plaintext record (rtpdump).
    #[arg(long, value_name = "FILE.rtpdump", conflicts_with = "replacement")]
    payloads: Option<PathBuf>,
    /// Replace every payload with this clip (a shipped clip name or a 48 kHz WAV), encoded
    /// with the preset; it is also the STOI reference.
    #[arg(long, value_name = "CLIP")]
    replacement: Option<String>,
    /// The audio the sender encoded (a shipped clip name or a 48 kHz WAV), from the stream's
    /// first packet on: enables STOI/ESTOI and, with a record, mouth-to-ear.
    #[arg(long, value_name = "CLIP", conflicts_with = "replacement")]
    reference: Option<String>,
    /// Repeat --reference back to back to this many seconds, as `sim --call-seconds` did.
    #[arg(long, value_parser = positive_seconds, requires = "reference")]
    call_seconds: Option<f64>,
    /// Stop playing this many seconds after the capture's first datagram (when the receiver
    /// hung up); later packets are left out.
    #[arg(long, value_parser = positive_seconds)]
    until_seconds: Option<f64>,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print replay.json instead of a summary.
    #[arg(long)]
    json: bool,
}

fn parse_ssrc(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("expected an SSRC as 0x-prefixed hex or decimal (32 bits), got `{s}`"))
}

pub fn replay(a: ReplayArgs, presets: &Presets) -> anyhow::Result<ExitCode> {
    let preset = presets.get(&a.preset)?;
    let payloads = match (&a.payloads, &a.replacement) {
        (Some(f), _) => Payloads::Record(f.clone()),
        (None, Some(c)) => Payloads::Replacement(clips::load(c)?),
        (None, None) => Payloads::Capture,
    };
    let reference = match &a.reference {
        Some(c) => {
            let clip = clips::load(c)?;
            Some(a.call_seconds.map_or_else(|| clip.clone(), |s| clip.as_call(s)))
        }
        None => None,
    };
    let until = a.until_seconds.map(|s| Until::AfterFirst(std::time::Duration::from_secs_f64(s)));
    let req = Request { capture: &a.capture, preset: &preset, ssrc: a.ssrc, payloads, reference, until };
    let replay = jitterbug::replay::replay(&req)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let json = a.out.join("replay.json");
    std::fs::write(&json, serde_json::to_string_pretty(&replay.result)?)
        .with_context(|| format!("writing {}", json.display()))?;
    jitterbug::wav::write_i16(&a.out.join("replayed.wav"), &replay.pcm, clips::RATE)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&replay.result)?);
    } else {
        print!("{}", summary(&replay));
        println!("wrote {}/replay.json, replayed.wav", a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(replay: &Replay) -> String {
    let r: &ReplayResult = &replay.result;
    let opt = |v: Option<f64>, digits: usize, field: &str| match v {
        Some(v) if field == "mouth_to_ear_ms" => format!("{v:.digits$} ms"),
        Some(v) => format!("{v:.digits$}"),
        None => format!("n/a ({})", r.unavailable.get(field).map_or("not measured", String::as_str)),
    };
    let jb = &r.jitter_buffer;
    let mut s = format!("{} with {} ({}): {}\n", replay.stream, r.preset, r.jitter_buffer_version, payloads(r));
    let _ = writeln!(
        s,
        "  stream    {} copies, {} of {} sequence numbers lost, {} corrupted, {} without payload",
        r.stream.packets, r.stream.lost, r.stream.expected, r.stream.corrupted, r.stream.without_payload
    );
    let _ = writeln!(
        s,
        "  buffer    target {:.1} ms (p95 {:.1}), delay {:.1} ms, stretched {:.2} % of samples ({} accelerate, {} expand ops), concealed {:.2} %, late {}, FEC-recovered {}",
        r.target_delay_ms,
        r.target_delay_p95_ms,
        r.buffer_delay_ms,
        r.stretched_share * 100.0,
        jb.accelerate_operations,
        jb.preemptive_expand_operations,
        r.concealed_share * 100.0,
        jb.packets_late,
        jb.fec_recovered
    );
    let _ = writeln!(s, "  STOI      {}", opt(r.stoi, 3, "stoi"));
    let _ = writeln!(s, "  ESTOI     {}", opt(r.estoi, 3, "estoi"));
    let _ = writeln!(s, "  mouth-to-ear {}", opt(r.mouth_to_ear_ms, 1, "mouth_to_ear_ms"));
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    s
}

fn payloads(r: &ReplayResult) -> String {
    use jitterbug_core::replay_result::PayloadSource;
    match &r.payloads {
        PayloadSource::Capture => "payloads from the capture".into(),
        PayloadSource::Record { file } => format!("payloads from {file}"),
        PayloadSource::Replacement { clip } => format!("payloads replaced by {clip}"),
    }
}
