//! Where a replay's payloads come from: the capture itself (plain RTP), the sender's plaintext
//! record (the payloads SRTP hides), or a clip encoded with the preset at each packet's RTP
//! timestamp (`neteq_rtpplay`'s replacement audio).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jitterbug_core::codec::{CodecSettings, Encoded};
use jitterbug_core::path::rtp_id;
use jitterbug_core::rtp::RtpHeader;
use jitterbug_core::rtpdump::Rtpdump;

use super::ReplayError;
use super::stream::Copy;
use crate::clips::Clip;
use crate::sim::encode_cache::EncodeCache;

/// The payload source a replay was asked for.
#[derive(Debug, Clone)]
pub enum Payloads {
    Capture,
    Record(PathBuf),
    Replacement(Clip),
}

/// One stream's packets from a sender's record, by sequence number, with their send times.
#[derive(Debug)]
pub struct SentRecord {
    pub file: PathBuf,
    /// The record's start, since the UNIX epoch (the sender's clock).
    pub start: Duration,
    pub by_sequence: HashMap<u16, (Duration, Vec<u8>)>,
}

impl SentRecord {
    pub fn load(file: &Path, ssrc: u32) -> Result<SentRecord, ReplayError> {
        let bytes = std::fs::read(file).map_err(|source| ReplayError::Io { file: file.into(), source })?;
        let dump = Rtpdump::parse(&bytes).map_err(|source| ReplayError::Record { file: file.into(), source })?;
        let by_sequence: HashMap<u16, (Duration, Vec<u8>)> = dump
            .records
            .into_iter()
            .filter_map(|r| {
                let (s, seq) = rtp_id(&r.packet)?;
                (s == ssrc).then(|| (seq, (dump.start + Duration::from_millis(u64::from(r.offset_ms)), r.packet)))
            })
            .collect();
        if by_sequence.is_empty() {
            return Err(ReplayError::RecordLacksStream { file: file.into(), ssrc });
        }
        Ok(SentRecord { file: file.into(), start: dump.start, by_sequence })
    }

    /// When the first sample of the stream was spoken, on the record's clock: each packet was
    /// sent once its frame was complete.
    pub fn speech_start(&self, clock_rate: u32, frame: Duration) -> Option<Duration> {
        let packets: Vec<(Duration, u32)> = self
            .by_sequence
            .values()
            .filter_map(|(at, p)| RtpHeader::parse(p).ok().map(|(h, _)| (*at, h.timestamp)))
            .collect();
        let first_ts = packets.iter().map(|(_, ts)| *ts).min_by_key(|ts| ts.wrapping_sub(packets[0].1) as i32)?;
        packets
            .iter()
            .map(|(at, ts)| {
                let into = Duration::from_secs_f64(f64::from(ts.wrapping_sub(first_ts)) / f64::from(clock_rate));
                at.saturating_sub(into)
            })
            .min()
            .map(|t| t.saturating_sub(frame))
    }

    pub fn last_send(&self) -> Option<Duration> {
        self.by_sequence.values().map(|(at, _)| *at).max()
    }
}

/// A clip encoded with the preset, laid out on the stream's RTP timeline.
#[derive(Debug)]
pub struct Replacement {
    frames: std::sync::Arc<Vec<Encoded>>,
    first_ts: u32,
    step: u32,
    /// The audio the frames encode, from the stream's first timestamp on: the reference.
    pub reference: Vec<i16>,
}

impl Replacement {
    /// Encodes `clip`, repeated to cover the stream, frame by frame with `settings`; the
    /// capture's packets must be one preset frame apart.
    pub fn new(
        clip: &Clip,
        settings: &CodecSettings,
        preset: &str,
        copies: &[Copy],
    ) -> Result<Replacement, ReplayError> {
        let step = settings.rtp_timestamp_step();
        let mut by_seq: Vec<(u16, u32)> = copies.iter().map(|c| (c.header.sequence, c.header.timestamp)).collect();
        by_seq.sort_unstable();
        by_seq.dedup();
        let spacing = by_seq
            .windows(2)
            .filter(|w| w[1].0.wrapping_sub(w[0].0) == 1)
            .map(|w| w[1].1.wrapping_sub(w[0].1))
            .filter(|&d| d > 0)
            .min();
        if let Some(d) = spacing.filter(|&d| d != step) {
            return Err(ReplayError::FrameMismatch {
                preset: preset.into(),
                preset_ms: settings.frame_ms.millis(),
                capture_ms: f64::from(d) * 1e3 / f64::from(settings.rtp_clock_rate()),
            });
        }
        let first_ts = copies
            .iter()
            .map(|c| c.header.timestamp)
            .min_by_key(|ts| ts.wrapping_sub(copies[0].header.timestamp) as i32)
            .unwrap_or(0);
        let last = copies.iter().map(|c| c.header.timestamp.wrapping_sub(first_ts)).max().unwrap_or(0);
        let frames_needed = (last / step) as usize + 1;
        let n = settings.frame_samples();
        let pcm: Vec<i16> = clip.pcm.iter().copied().cycle().take(frames_needed * n).collect();
        let looped = Clip { name: clip.name.clone(), pcm: std::sync::Arc::new(pcm.clone()) };
        let frames = EncodeCache::default().get(&looped, settings, 0).map_err(ReplayError::Codec)?;
        Ok(Replacement { frames, first_ts, step, reference: pcm })
    }

    /// The packet with the captured header and the replacement frame of its timestamp.
    pub fn packet(&self, header: &RtpHeader) -> Option<Vec<u8>> {
        let k = header.timestamp.wrapping_sub(self.first_ts) / self.step;
        self.frames.get(k as usize).map(|f| header.write(&f.payload))
    }
}
