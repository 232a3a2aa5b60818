//! Replay, as libwebrtc's `neteq_rtpplay` does: the RTP arrivals recorded in a capture (ours,
//! or one a user took with tcpdump or Wireshark) played through a preset's jitter buffer and
//! decoder on a 10 ms tick, to ask "what would preset X have done on this call?". Headers and
//! arrival times come from the capture; payloads from it, from the sender's plaintext record,
//! or from a replacement clip ([`payloads`]).

mod payloads;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jitterbug_core::codec::{CodecError, Decoder};
use jitterbug_core::jitter_buffer::BUFFER_VERSION;
use jitterbug_core::metrics::MetricError;
use jitterbug_core::preset::Preset;
use jitterbug_core::replay_result::{PayloadSource, ReplayResult, StreamCounters};
use jitterbug_core::results::{Percentiles, SCHEMA_VERSION};
use jitterbug_core::rtpdump::RtpdumpError;
use jitterbug_core::time::Timestamp;

pub use payloads::Payloads;
use payloads::{Replacement, SentRecord};
pub use stream::StreamInfo;
use stream::{ChecksumPolicy, streams};

use crate::clips::Clip;
use crate::pcap::{self, PcapReadError};
use crate::sim::receiver::{self, Arrival};

/// Captures whose first datagram falls this soon after [`pcap::EPOCH`] are Jitterbug's (the
/// simulator's virtual zero, the relay's start): their ticks start there, as the receiver's did.
const OURS_WITHIN: Duration = Duration::from_secs(60);
/// For other captures playout starts this long before the first packet, like a browser
/// whose audio device runs before media arrives.
const PRE_ROLL: Duration = Duration::from_millis(100);

/// What to replay.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub capture: &'a Path,
    pub preset: &'a Preset,
    /// The stream; needed when the capture holds more than one.
    pub ssrc: Option<u32>,
    pub payloads: Payloads,
    /// The audio the sender encoded, from the stream's first packet on (for STOI and
    /// mouth-to-ear); a replacement clip is its own reference.
    pub reference: Option<Clip>,
    /// When to stop playing, as a receiver that hung up then would have; later copies are
    /// left out. By default playout drains past the last one.
    pub until: Option<Until>,
}

/// A moment on the capture's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// A capture time, since the UNIX epoch.
    At(Duration),
    /// This long after the capture's first datagram.
    AfterFirst(Duration),
}

/// A replayed stream: the result and what was played (48 kHz).
#[derive(Debug)]
pub struct Replay {
    pub result: ReplayResult,
    pub stream: StreamInfo,
    pub pcm: Vec<i16>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Capture(#[from] PcapReadError),
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}: no RTP packets in its {frames} frames ({udp} UDP datagrams): expected RTP version 2 over UDP (RFC 3550), as WebRTC media is"
    )]
    NoRtp { file: PathBuf, frames: usize, udp: usize },
    #[error("{file}: no RTP stream with SSRC {ssrc:#010x}; it has {streams}")]
    NoSuchSsrc { file: PathBuf, ssrc: u32, streams: String },
    #[error("{file}: {n} RTP streams; pick one with --ssrc: {streams}")]
    WhichStream { file: PathBuf, n: usize, streams: String },
    #[error("{file}: {source}")]
    Record {
        file: PathBuf,
        #[source]
        source: RtpdumpError,
    },
    #[error("{file}: no packet of SSRC {ssrc:#010x}: expected the record of the sender of the replayed stream")]
    RecordLacksStream { file: PathBuf, ssrc: u32 },
    #[error(
        "the capture's packets are {capture_ms} ms apart; preset {preset} encodes {preset_ms} ms frames: pick a preset with {capture_ms} ms frames"
    )]
    FrameMismatch { preset: String, preset_ms: u32, capture_ms: f64 },
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    #[error("scoring: {0}")]
    Metric(#[from] MetricError),
}

fn listing(all: &[StreamInfo]) -> String {
    all.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The stream the request names, or the only one.
fn pick(req: &Request<'_>, all: &[StreamInfo], capture: &pcap::Capture) -> Result<StreamInfo, ReplayError> {
    let file = req.capture.to_path_buf();
    if all.is_empty() {
        return Err(ReplayError::NoRtp { file, frames: capture.frames, udp: capture.datagrams.len() });
    }
    match req.ssrc {
        Some(ssrc) => all.iter().find(|s| s.ssrc == ssrc).cloned().ok_or_else(|| ReplayError::NoSuchSsrc {
            file,
            ssrc,
            streams: listing(all),
        }),
        None if all.len() == 1 => Ok(all[0].clone()),
        None => Err(ReplayError::WhichStream { file, n: all.len(), streams: listing(all) }),
    }
}

fn date(t: Duration) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + t).to_string()
}

/// Plays the requested stream through the preset's buffer and decoder.
pub fn replay(req: &Request<'_>) -> Result<Replay, ReplayError> {
    let capture = pcap::read(req.capture)?;
    let all = streams(&capture);
    let info = pick(req, &all, &capture)?;
    let (mut copies, policy) = stream::copies(&capture, info.ssrc);
    let first_capture = capture.datagrams.first().map_or(Duration::ZERO, |d| d.at);
    let until = req.until.map(|u| match u {
        Until::At(t) => t,
        Until::AfterFirst(d) => first_capture + d,
    });
    if let Some(until) = until {
        copies.retain(|c| c.at < until);
    }
    let codec = &req.preset.codec;
    let mut notes = Vec::new();
    if let ChecksumPolicy::Ignored { bad } = policy {
        notes.push(format!(
            "{bad} of {} copies fail their UDP checksum: taken as captured before checksum offload, and kept",
            copies.len()
        ));
    }
    let record = match &req.payloads {
        Payloads::Record(file) => Some(SentRecord::load(file, info.ssrc)?),
        _ => None,
    };
    let replacement = match &req.payloads {
        Payloads::Replacement(clip) => Some(Replacement::new(clip, codec, &req.preset.name, &copies)?),
        _ => None,
    };

    // The replay's clock: ticks from the call's zero for our captures, else just before the
    // first packet, on the capture's 10 ms grid.
    let first_copy = copies.first().map_or(Duration::ZERO, |c| c.at);
    let origin = if first_capture >= pcap::EPOCH && first_capture < pcap::EPOCH + OURS_WITHIN {
        pcap::EPOCH
    } else {
        let floor = Duration::from_millis(first_copy.as_millis() as u64 / 10 * 10);
        floor.saturating_sub(PRE_ROLL)
    };
    let frame = Duration::from_millis(u64::from(codec.frame_ms.millis()));
    let mut unavailable = BTreeMap::new();
    let send_times_reason =
        "needs send times: the capture has arrival times only; give the sender's record (--payloads FILE.rtpdump)";
    let speech_start = match &record {
        None => {
            unavailable.insert("mouth_to_ear_ms".to_string(), send_times_reason.to_string());
            None
        }
        Some(r) => {
            let start = r.speech_start(codec.rtp_clock_rate(), frame);
            let first_send = r.by_sequence.values().map(|(at, _)| *at).min().unwrap_or(r.start);
            if first_send <= first_copy && first_copy <= first_send + Duration::from_secs(10) {
                start
            } else {
                unavailable.insert(
                    "mouth_to_ear_ms".to_string(),
                    format!(
                        "needs send times on the capture's clock: the sender's record ({}) starts {} and the capture {}",
                        r.file.display(),
                        date(r.start),
                        date(first_capture)
                    ),
                );
                None
            }
        }
    };

    let mut counters = StreamCounters { packets: copies.len() as u64, ..Default::default() };
    let mut arrivals = Vec::with_capacity(copies.len());
    let mut sequences = BTreeSet::new();
    let mut unwrap = jitterbug_core::jitter_buffer::SeqUnwrapper::default();
    for (index, c) in copies.iter().enumerate() {
        sequences.insert(unwrap.unwrap(u64::from(c.header.sequence)));
        counters.corrupted += u64::from(c.corrupted);
        let bytes = match (&record, &replacement) {
            (Some(r), _) => r.by_sequence.get(&c.header.sequence).map(|(_, p)| p.clone()),
            (None, Some(rep)) => rep.packet(&c.header),
            (None, None) => Some(c.bytes.clone()),
        };
        let Some(bytes) = bytes else {
            counters.without_payload += 1;
            continue;
        };
        let at = Timestamp::ZERO + c.at.saturating_sub(origin);
        arrivals.push(Arrival { at, bytes, index, corrupted: c.corrupted });
    }
    if counters.without_payload > 0 {
        notes.push(format!(
            "{} copies have no payload in the sender's record and were not played",
            counters.without_payload
        ));
    }
    if let (Some(&lo), Some(&hi)) = (sequences.first(), sequences.last()) {
        counters.expected = hi - lo + 1;
        counters.lost = counters.expected - sequences.len() as u64;
    }

    let last_arrival = arrivals.last().map_or(Timestamp::ZERO, |a| a.at);
    let last_send = speech_start
        .and(record.as_ref())
        .and_then(SentRecord::last_send)
        .map(|t| Timestamp::ZERO + t.saturating_sub(origin));
    let until = match until {
        Some(t) => Timestamp::ZERO + t.saturating_sub(origin),
        None => last_arrival.max(last_send.unwrap_or(Timestamp::ZERO)) + crate::sim::DRAIN,
    };
    let decoder = Decoder::new(codec)?;
    let received = receiver::receive(&arrivals, req.preset.jitter_buffer, codec.rtp_clock_rate(), decoder, until);

    let reference = req.reference.as_ref().map(|c| c.pcm.to_vec()).or_else(|| replacement.map(|r| r.reference));
    let (mut stoi, mut estoi, mut m2e, mut m2e_p95) = (None, None, None, None);
    match &reference {
        Some(reference) => {
            let h = crate::score::intelligibility(reference, &received.pcm)?;
            (stoi, estoi) = (Some(h.stoi), Some(h.estoi));
            if let Some(spoken) = speech_start {
                // Both signals start at the call's zero in the simulator; in general the
                // output starts at the replay's origin and the speech when it was spoken.
                let offset_ms = (origin.as_secs_f64() - spoken.as_secs_f64()) * 1e3;
                (m2e, m2e_p95) = (Some(h.lag_ms + offset_ms), Some(h.lag_p95_ms + offset_ms));
            }
        }
        None => {
            let why = "needs the audio that was sent (--reference WAV, or --replacement CLIP)";
            for f in ["stoi", "estoi", "mouth_to_ear_ms"] {
                // A missing send time is the more basic reason; keep it when given.
                unavailable.entry(f.to_string()).or_insert_with(|| why.to_string());
            }
        }
    }
    if unavailable.contains_key("mouth_to_ear_ms") {
        let why = unavailable["mouth_to_ear_ms"].clone();
        unavailable.insert("mouth_to_ear_p95_ms".into(), why);
    }

    let s = received.stats;
    let playing_from = arrivals.first().map_or(0, |a| a.at.saturating_since(Timestamp::ZERO).as_millis() as u64);
    let targets: Vec<f64> = received.timeline.iter().filter(|p| p.t_ms >= playing_from).map(|p| p.target_ms).collect();
    let result = ReplayResult {
        schema_version: SCHEMA_VERSION,
        capture: req.capture.display().to_string(),
        ssrc: info.ssrc,
        preset: req.preset.name.clone(),
        jitter_buffer_version: BUFFER_VERSION.to_string(),
        payloads: match &req.payloads {
            Payloads::Capture => PayloadSource::Capture,
            Payloads::Record(f) => PayloadSource::Record { file: f.display().to_string() },
            Payloads::Replacement(c) => PayloadSource::Replacement { clip: c.name.clone() },
        },
        stream: counters,
        jitter_buffer: s,
        stretched_share: s.stretched_ratio(),
        concealed_share: s.voice_concealment_ratio(),
        target_delay_ms: s.mean_target_delay_ms().unwrap_or(0.0),
        target_delay_p95_ms: Percentiles::of(&targets).map_or(0.0, |p| p.p95),
        buffer_delay_ms: s.mean_delay_ms().unwrap_or(0.0),
        stoi,
        estoi,
        mouth_to_ear_ms: m2e,
        mouth_to_ear_p95_ms: m2e_p95,
        unavailable,
        notes,
        timeline: received.timeline,
    };
    Ok(Replay { result, stream: info, pcm: received.pcm })
}
