//! The jitter buffer: one implementation for the simulator, the live agent and the native client.
//!
//! Sans-I/O like the rest of the core: `insert` is told when a packet arrived, `pull` is told
//! when 10 ms of audio must be played. In the style of NetEq it keeps packets by timestamp,
//! decodes in order, conceals (PLC) what is missing, recovers a lost frame from the next
//! packet's in-band FEC when that packet is already here, plays comfort noise through DTX gaps,
//! counts late packets, and — in adaptive mode — steers the buffer level towards a target delay
//! from the [`DelayManager`] by removing (accelerate) or repeating (preemptive expand) one pitch
//! period. Counters follow WebRTC getStats names.

mod delay_manager;
mod stats;
mod time_stretch;
mod unwrap;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

pub use delay_manager::{DelayManager, Strategy};
pub use stats::{JbPoint, JitterBufferStats, TIMELINE_STEP_MS};
pub use time_stretch::{accelerate, preemptive_expand};
pub use unwrap::{SeqUnwrapper, TimestampUnwrapper, Unwrapper};

use crate::codec::{CodecError, Decoder};
use crate::time::Timestamp;

/// Output rate of the buffer; RTP timestamps are scaled to it.
pub const OUTPUT_RATE: u32 = 48_000;
/// Samples per `pull`: 10 ms, as NetEq's GetAudio.
pub const BLOCK: usize = 480;
/// Packets kept at most; beyond this the oldest are discarded (counted).
const MAX_PACKETS: usize = 500;

/// What the buffer needs from a codec.
pub trait FrameDecoder {
    fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError>;
    /// One frame of packet-loss concealment.
    fn conceal(&mut self) -> Vec<i16>;
    /// The frame before `next_payload`, from its in-band FEC; `None` when it carries none.
    fn decode_fec(&mut self, next_payload: &[u8]) -> Result<Option<Vec<i16>>, CodecError>;
    /// True for comfort-noise/DTX payloads (silence follows, not loss).
    fn is_comfort_noise(&self, payload: &[u8]) -> bool;
}

impl FrameDecoder for Decoder {
    fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError> {
        Decoder::decode(self, payload)
    }
    fn conceal(&mut self) -> Vec<i16> {
        Decoder::conceal(self)
    }
    fn decode_fec(&mut self, next_payload: &[u8]) -> Result<Option<Vec<i16>>, CodecError> {
        Decoder::decode_fec(self, next_payload)
    }
    fn is_comfort_noise(&self, payload: &[u8]) -> bool {
        // Opus DTX frames carry only the TOC byte (and at most one more); G.711 has no DTX.
        payload.len() <= 2
    }
}

/// Fixed playout delay, or adaptive with a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum JitterBufferConfig {
    /// Play every packet `delay_ms` after the first packet's arrival (plus its media time);
    /// no time-stretching. What is later than that is lost.
    Fixed { delay_ms: f64 },
    /// Target delay from the delay manager, bounded; time-stretching steers towards it.
    Adaptive {
        strategy: Strategy,
        #[serde(default)]
        min_delay_ms: f64,
        #[serde(default = "default_max_delay_ms")]
        max_delay_ms: f64,
    },
}

fn default_max_delay_ms() -> f64 {
    1000.0
}

impl JitterBufferConfig {
    /// Delay before the first packet is played.
    fn start_delay_ms(&self) -> f64 {
        match *self {
            JitterBufferConfig::Fixed { delay_ms } => delay_ms,
            // NetEq starts at 80 ms (kStartDelayMs); the strategies scale it.
            JitterBufferConfig::Adaptive { strategy, min_delay_ms, .. } => min_delay_ms.max(match strategy {
                Strategy::Conservative => 40.0,
                Strategy::Balanced => 80.0,
                Strategy::Aggressive => 120.0,
            }),
        }
    }
}

/// RTP header fields the buffer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpInfo {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
}

/// What happened to an inserted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Stored,
    /// Already stored or already played.
    Duplicate,
    /// Its playout time has passed: a late loss.
    Late,
    /// A new SSRC: the buffer was reset first, then the packet stored.
    StoredAfterSsrcChange,
}

#[derive(Debug, Clone)]
struct Packet {
    seq: u64,
    payload: Vec<u8>,
    arrival: Timestamp,
}

/// Why a frame is concealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// The packet is lost (or too late): conceal it and move on.
    Lost,
    /// A DTX gap: comfort noise, not loss.
    Silent,
    /// The packet is late and may still come: conceal without moving the timeline (expand).
    Waiting,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Nothing received yet.
    Idle,
    /// Received, waiting for the start delay.
    Buffering {
        first_arrival: Timestamp,
    },
    Playing,
}

/// The jitter buffer with its decoder.
#[derive(Debug)]
pub struct JitterBuffer<D> {
    config: JitterBufferConfig,
    scale: u64,
    decoder: D,
    delay: Option<DelayManager>,
    ssrc: Option<u32>,
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    /// Stored packets by timestamp (in output samples).
    packets: BTreeMap<u64, Packet>,
    state: State,
    /// Timestamp of the next sample the decoder will produce.
    play_ts: u64,
    last_seq: Option<u64>,
    last_was_comfort_noise: bool,
    in_concealment: bool,
    frame_len: usize,
    /// Decoded audio not yet played, with the arrival time of the packet it came from
    /// (`None` for concealment) per run of samples.
    sync: VecDeque<i16>,
    segments: VecDeque<(usize, Option<Timestamp>)>,
    /// Recently played sequence numbers, to tell duplicates from late packets.
    played: BTreeSet<u64>,
    /// Hold one more frame so a lost frame's successor, carrying its FEC, is usually here.
    fec_lookahead: bool,
    /// Samples expanded while waiting for a late packet, not yet set against the timeline.
    waited: u64,
    stats: JitterBufferStats,
}

impl<D: FrameDecoder> JitterBuffer<D> {
    /// A buffer for a stream with RTP clock `clock_rate` (which must divide 48 kHz).
    pub fn new(config: JitterBufferConfig, clock_rate: u32, decoder: D) -> Self {
        let delay = match config {
            JitterBufferConfig::Adaptive { strategy, .. } => Some(DelayManager::new(strategy)),
            JitterBufferConfig::Fixed { .. } => None,
        };
        JitterBuffer {
            config,
            scale: u64::from(OUTPUT_RATE / clock_rate.clamp(1, OUTPUT_RATE)),
            decoder,
            delay,
            ssrc: None,
            seq_unwrap: SeqUnwrapper::default(),
            ts_unwrap: TimestampUnwrapper::default(),
            packets: BTreeMap::new(),
            state: State::Idle,
            play_ts: 0,
            last_seq: None,
            last_was_comfort_noise: false,
            in_concealment: false,
            frame_len: 960,
            sync: VecDeque::new(),
            segments: VecDeque::new(),
            played: BTreeSet::new(),
            fec_lookahead: false,
            waited: 0,
            stats: JitterBufferStats::default(),
        }
    }

    /// The stream carries in-band FEC (Opus `useinbandfec=1`): adaptive mode then targets one
    /// extra frame, so that when a packet is missing the next one — whose FEC rebuilds it — is
    /// usually already buffered. Without it FEC is rarely usable at small buffer levels.
    pub fn expect_fec(mut self, fec: bool) -> Self {
        self.fec_lookahead = fec;
        self
    }

    pub fn stats(&self) -> &JitterBufferStats {
        &self.stats
    }

    /// The current target delay in milliseconds.
    pub fn target_delay_ms(&self) -> f64 {
        match (&self.config, &self.delay) {
            (JitterBufferConfig::Adaptive { min_delay_ms, max_delay_ms, .. }, Some(dm)) => {
                let fec = if self.fec_lookahead { self.frame_ms() } else { 0.0 };
                (dm.target_ms(self.frame_ms()) + fec).clamp(*min_delay_ms, *max_delay_ms)
            }
            _ => self.config.start_delay_ms(),
        }
    }

    /// Audio buffered ahead of playout (decoded and not), in milliseconds.
    pub fn buffer_level_ms(&self) -> f64 {
        let span = match self.packets.last_key_value() {
            Some((&ts, _)) if ts + self.frame_len as u64 > self.play_ts => ts + self.frame_len as u64 - self.play_ts,
            _ => 0,
        };
        (self.sync.len() as u64 + span) as f64 * 1e3 / f64::from(OUTPUT_RATE)
    }

    fn frame_ms(&self) -> f64 {
        self.frame_len as f64 * 1e3 / f64::from(OUTPUT_RATE)
    }

    /// Stores a packet that arrived at `now`.
    pub fn insert(&mut self, now: Timestamp, rtp: RtpInfo, payload: Vec<u8>) -> Inserted {
        let mut outcome = Inserted::Stored;
        if self.ssrc.is_some_and(|s| s != rtp.ssrc) {
            self.reset_stream();
            self.stats.ssrc_changes += 1;
            outcome = Inserted::StoredAfterSsrcChange;
        }
        self.ssrc = Some(rtp.ssrc);
        self.stats.packets_received += 1;
        let seq = self.seq_unwrap.unwrap(u64::from(rtp.sequence));
        let ts = self.ts_unwrap.unwrap(u64::from(rtp.timestamp)) * self.scale;
        if self.played.contains(&seq) || self.packets.get(&ts).is_some_and(|p| p.seq == seq) {
            self.stats.packets_duplicated += 1;
            return Inserted::Duplicate;
        }
        // Late packets feed the delay manager too: they are the evidence that the target is
        // too small (without them a buffer that fell behind would never grow again).
        if let Some(dm) = self.delay.as_mut() {
            dm.update(now.as_nanos() as f64 / 1e6, ts as f64 * 1e3 / f64::from(OUTPUT_RATE));
        }
        if self.state == State::Playing && ts < self.play_ts {
            self.stats.packets_late += 1;
            return Inserted::Late;
        }
        if self.packets.len() >= MAX_PACKETS {
            self.packets.pop_first();
            self.stats.packets_discarded += 1;
        }
        self.packets.insert(ts, Packet { seq, payload, arrival: now });
        if self.state == State::Idle {
            self.state = State::Buffering { first_arrival: now };
        }
        outcome
    }

    fn reset_stream(&mut self) {
        self.seq_unwrap.reset();
        self.ts_unwrap.reset();
        self.stats.packets_discarded += self.packets.len() as u64;
        self.packets.clear();
        self.played.clear();
        self.last_seq = None;
        self.last_was_comfort_noise = false;
        self.in_concealment = false;
        self.waited = 0;
        // Audio already decoded still plays; the new stream starts after its start delay.
        self.state = State::Idle;
    }

    /// Packets stored and not yet played.
    pub fn packets_buffered(&self) -> usize {
        self.packets.len()
    }

    /// Ends the stream: returns the decoded audio not yet played (less than a frame), without
    /// concealing anything after it. For when the sender is known to have stopped.
    pub fn flush(&mut self, now: Timestamp) -> Vec<i16> {
        let n = self.sync.len();
        let out: Vec<i16> = self.sync.drain(..).collect();
        self.account(now, n);
        out
    }

    /// The next 10 ms of audio (480 samples at 48 kHz), to be played at `now`.
    pub fn pull(&mut self, now: Timestamp) -> Vec<i16> {
        if let State::Buffering { first_arrival } = self.state {
            let due = first_arrival + crate::time::millis_f64(self.config.start_delay_ms());
            if now >= due {
                self.state = State::Playing;
                self.play_ts = self.packets.first_key_value().map_or(0, |(&ts, _)| ts);
            }
        }
        if self.state == State::Playing {
            while self.sync.len() < BLOCK {
                self.produce();
            }
        }
        if self.sync.is_empty() {
            return vec![0; BLOCK];
        }
        let n = BLOCK.min(self.sync.len());
        let mut out: Vec<i16> = self.sync.drain(..n).collect();
        out.resize(BLOCK, 0);
        self.account(now, n);
        out
    }

    /// Books `n` emitted samples against the segments they came from.
    fn account(&mut self, now: Timestamp, mut n: usize) {
        let target_s = self.target_delay_ms() / 1e3;
        self.stats.total_samples_received += n as u64;
        while n > 0 {
            let Some((len, arrival)) = self.segments.front_mut() else { break };
            let take = (*len).min(n);
            if let Some(a) = *arrival {
                self.stats.jitter_buffer_delay += now.saturating_since(a).as_secs_f64() * take as f64;
                self.stats.jitter_buffer_target_delay += target_s * take as f64;
                self.stats.jitter_buffer_emitted_count += take as u64;
            }
            *len -= take;
            n -= take;
            if *len == 0 {
                self.segments.pop_front();
            }
        }
    }

    fn push(&mut self, pcm: Vec<i16>, arrival: Option<Timestamp>) {
        self.segments.push_back((pcm.len(), arrival));
        self.sync.extend(pcm);
    }

    fn mark_played(&mut self, seq: u64) {
        self.played.insert(seq);
        while self.played.len() > 1024 {
            self.played.pop_first();
        }
        self.last_seq = Some(self.last_seq.map_or(seq, |s| s.max(seq)));
    }

    /// Decodes, recovers or conceals one frame into the sync buffer.
    fn produce(&mut self) {
        let step = self.frame_len as u64;
        if let Some(p) = self.packets.remove(&self.play_ts) {
            self.mark_played(p.seq);
            match self.decoder.decode(&p.payload) {
                Ok(pcm) => {
                    let comfort = self.decoder.is_comfort_noise(&p.payload);
                    self.frame_len = pcm.len().max(1);
                    self.play_ts += pcm.len() as u64;
                    let pcm = if comfort { pcm } else { self.stretch(pcm) };
                    self.push(pcm, Some(p.arrival));
                    self.last_was_comfort_noise = comfort;
                    self.in_concealment = false;
                    self.waited = 0;
                }
                Err(_) => {
                    self.stats.decode_errors += 1;
                    self.conceal(Gap::Lost);
                }
            }
            return;
        }
        let next = self.packets.first_key_value().map(|(&ts, p)| (ts, p.seq));
        if let Some((ts, _)) = next.filter(|_| self.waited > 0) {
            // Playout waited (expanded) for a packet that never came and later ones are here:
            // the waiting covered the missing stretch, so move on to them rather than conceal
            // that stretch a second time (NetEq merges into the next packet likewise).
            self.play_ts += self.waited.min(ts.saturating_sub(self.play_ts));
            self.waited = 0;
            return;
        }
        match next {
            // A packet starts inside this frame (timestamps not on our frame grid): realign.
            Some((ts, _)) if ts > self.play_ts && ts < self.play_ts + step => self.play_ts = ts,
            // Contiguous sequence numbers across a timestamp gap: the sender was in DTX.
            Some((_, seq)) if self.last_seq.is_some_and(|s| seq == s + 1) => self.conceal(Gap::Silent),
            Some((ts, _)) if ts == self.play_ts + step => {
                let payload = self.packets[&ts].payload.clone();
                let arrival = self.packets[&ts].arrival;
                match self.decoder.decode_fec(&payload) {
                    Ok(Some(pcm)) => {
                        self.stats.fec_recovered += 1;
                        self.play_ts += step;
                        self.push(pcm, Some(arrival));
                        self.in_concealment = false;
                    }
                    _ => self.conceal(Gap::Lost),
                }
            }
            None if self.last_was_comfort_noise => self.conceal(Gap::Silent),
            // Nothing buffered: the packet is late, not (yet) lost. Adaptive mode expands
            // without moving on, as NetEq does, so playout slows and the packet is still played
            // when it lands; a fixed schedule moves on and the packet will count as late.
            None if self.delay.is_some() => self.conceal(Gap::Waiting),
            _ => self.conceal(Gap::Lost),
        }
    }

    /// Plays one frame of concealment for a gap of this kind.
    fn conceal(&mut self, gap: Gap) {
        let pcm = self.decoder.conceal();
        let n = pcm.len() as u64;
        self.stats.concealed_samples += n;
        if gap == Gap::Silent {
            self.stats.silent_concealed_samples += n;
        } else if !self.in_concealment {
            self.stats.concealment_events += 1;
            self.in_concealment = true;
        }
        if gap == Gap::Waiting {
            self.waited += n;
        } else {
            self.play_ts += self.frame_len as u64;
        }
        self.push(pcm, None);
    }

    /// Adaptive mode: accelerate or preemptively expand a decoded frame towards the target.
    fn stretch(&mut self, mut pcm: Vec<i16>) -> Vec<i16> {
        if self.delay.is_none() {
            return pcm;
        }
        let target = self.target_delay_ms();
        let level = self.buffer_level_ms() + pcm.len() as f64 * 1e3 / f64::from(OUTPUT_RATE);
        let low = (0.75 * target).max(target - 20.0);
        let high = target.max(low + 20.0);
        if level >= high {
            let removed = accelerate(&mut pcm);
            self.stats.removed_samples_for_acceleration += removed as u64;
            self.stats.accelerate_operations += u64::from(removed > 0);
        } else if level < low {
            let added = preemptive_expand(&mut pcm);
            self.stats.inserted_samples_for_deceleration += added as u64;
            self.stats.preemptive_expand_operations += u64::from(added > 0);
        }
        pcm
    }
}
