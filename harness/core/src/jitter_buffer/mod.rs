//! The jitter buffer: one implementation for the simulator, the live agent and the native
//! client, a port of the behaviour of libwebrtc's NetEq as Chromium ships it
//! (docs/neteq-port.md names the revision and the source of every rule).
//!
//! Sans-I/O like the rest of the core: `insert` is told a packet arrived, `pull` is told 10 ms
//! of audio must be played (one NetEq tick; NetEq counts time in these ticks, and so does this
//! buffer). Each tick the [`decision`] controller picks an operation from where playout stands
//! against the target delay of the [`delay_manager`] and the window of arrival delays:
//! play on, accelerate or preemptively expand by one pitch period when the periods correlate
//! ([`time_stretch`]), conceal while a packet is missing without moving the timeline, move past
//! a gap once the concealment covers it, recover a lost frame from the next packet's in-band
//! FEC, or play comfort noise through DTX. Counters follow WebRTC getStats names and NetEq's
//! rules for when each moves.
//!
//! Concealment audio is the codec's own (libopus PLC, G.711 Appendix I): Chromium conceals Opus
//! with NetEq's Expand (pitch repetition and noise), whose audio is not ported; its samples are
//! booked voice or silent as Expand's mute factor would book them ([`expand_muting`]), and the
//! calibration against Chromium compares intelligibility only where nothing is lost.
//!
//! The fixed mode is not NetEq: every packet plays `delay_ms` after the first one arrived
//! (plus its media time), with no time-stretching; what is later is lost.

mod arrival_history;
pub mod decision;
mod delay_manager;
mod expand_muting;
mod histogram;
mod level_filter;
mod reorder_optimizer;
mod stats;
pub mod time_stretch;
mod underrun_optimizer;
mod unwrap;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

pub use delay_manager::{DelayManager, DelayParams, MAX_PACKETS, Strategy};
pub use stats::{JbPoint, JitterBufferStats, TIMELINE_STEP_MS};
pub use unwrap::{SeqUnwrapper, TimestampUnwrapper, Unwrapper};

use crate::codec::{CodecError, Decoder};
use crate::time::Timestamp;
use decision::{Controller, Mode, NextPacket, Operation, Status};
use expand_muting::ExpandMuting;
use time_stretch::{DEFAULT_NOISE_ENERGY, INPUT, Stretch};

/// Output rate of the buffer; RTP timestamps are scaled to it.
pub const OUTPUT_RATE: u32 = 48_000;
/// Samples per `pull`: 10 ms, as NetEq's GetAudio.
pub const BLOCK: usize = 480;
/// Which version of the buffer's behaviour results were made with: bumped whenever a change
/// moves what the buffer does, so stores can say "re-bless" instead of listing regressions.
pub const BUFFER_VERSION: &str = "neteq-m156-3";

/// What the buffer needs from a codec.
pub trait FrameDecoder {
    fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError>;
    /// One frame of packet-loss concealment (or, after DTX, of comfort noise).
    fn conceal(&mut self) -> Vec<i16>;
    /// The frame before `next_payload`, from its in-band FEC; `None` when it carries none.
    fn decode_fec(&mut self, next_payload: &[u8]) -> Result<Option<Vec<i16>>, CodecError>;
    /// Whether `payload` carries in-band FEC for the frame before it.
    fn has_fec(&self, payload: &[u8]) -> bool;
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
    fn has_fec(&self, payload: &[u8]) -> bool {
        self.is_opus() && crate::codec::opus::packet_has_lbrr(payload)
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
    /// NetEq's adaptive buffer with a strategy's delay-manager parameters.
    Adaptive {
        strategy: Strategy,
        /// A floor on the target (NetEq's base minimum delay), ms.
        #[serde(default)]
        min_delay_ms: f64,
        /// A ceiling on the target, ms; unset leaves the strategy's, or only the capacity cap.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_delay_ms: Option<f64>,
    },
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
    /// The buffer was full: it was flushed, then the packet stored.
    StoredAfterFlush,
}

#[derive(Debug, Clone)]
struct Packet {
    seq: u64,
    payload: Vec<u8>,
    /// The tick it arrived in.
    tick: u64,
}

/// How playout is paced.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Schedule {
    /// NetEq's controller decides every tick (it lives in `JitterBuffer::controller`).
    Adaptive,
    /// A fixed delay after the first packet's arrival.
    Fixed { delay_ms: f64, first_arrival: Option<Timestamp> },
}

/// The jitter buffer with its decoder.
#[derive(Debug)]
pub struct JitterBuffer<D> {
    config: JitterBufferConfig,
    scale: u64,
    decoder: D,
    controller: Option<Controller>,
    schedule: Schedule,
    ssrc: Option<u32>,
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    /// Stored packets by timestamp (in output samples).
    packets: BTreeMap<u64, Packet>,
    /// `pull`s so far: NetEq's tick counter.
    tick: u64,
    started: bool,
    /// Timestamp of the next sample to decode: the decoded audio's end.
    play_ts: u64,
    /// Decoded audio not yet played, and the last samples played (stretches may analyse them).
    sync: VecDeque<i16>,
    played_tail: VecDeque<i16>,
    last_mode: Mode,
    frame_len: usize,
    last_seq: Option<u64>,
    /// Recently played sequence numbers, to tell duplicates from late packets.
    played: BTreeSet<u64>,
    /// The last decoded frame was comfort noise (DTX).
    last_was_comfort_noise: bool,
    /// The tick the current concealment or comfort noise began.
    noise_since: Option<u64>,
    /// RMS of the last decoded frame, and the concealment's gain against it.
    last_rms: f64,
    mute_factor: f64,
    /// Per-sample energy of the background, for the time-stretch's speech detection.
    noise_energy: Option<f64>,
    /// NetEq books most counters only once decoded audio has been played.
    decoded_played: bool,
    in_concealment: bool,
    /// How NetEq's Expand would be muting the current concealment (its getStats booking).
    muting: Option<ExpandMuting>,
    stats: JitterBufferStats,
    /// Samples stretched since the last timeline point (for the report).
    stretched_in_step: u64,
}

fn rms(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

impl<D: FrameDecoder> JitterBuffer<D> {
    /// A buffer for a stream with RTP clock `clock_rate` (which must divide 48 kHz).
    pub fn new(config: JitterBufferConfig, clock_rate: u32, decoder: D) -> Self {
        let (controller, schedule) = match config {
            JitterBufferConfig::Adaptive { strategy, min_delay_ms, max_delay_ms } => (
                Some(Controller::new(OUTPUT_RATE, DelayManager::new(strategy, min_delay_ms, max_delay_ms))),
                Schedule::Adaptive,
            ),
            JitterBufferConfig::Fixed { delay_ms } => (None, Schedule::Fixed { delay_ms, first_arrival: None }),
        };
        JitterBuffer {
            config,
            scale: u64::from(OUTPUT_RATE / clock_rate.clamp(1, OUTPUT_RATE)),
            decoder,
            controller,
            schedule,
            ssrc: None,
            seq_unwrap: SeqUnwrapper::default(),
            ts_unwrap: TimestampUnwrapper::default(),
            packets: BTreeMap::new(),
            tick: 0,
            started: false,
            play_ts: 0,
            sync: VecDeque::new(),
            played_tail: VecDeque::new(),
            last_mode: Mode::Normal,
            frame_len: 960,
            last_seq: None,
            played: BTreeSet::new(),
            last_was_comfort_noise: false,
            noise_since: None,
            last_rms: 0.0,
            mute_factor: 1.0,
            noise_energy: None,
            decoded_played: false,
            in_concealment: false,
            muting: None,
            stats: JitterBufferStats::default(),
            stretched_in_step: 0,
        }
    }

    pub fn stats(&self) -> &JitterBufferStats {
        &self.stats
    }

    pub fn config(&self) -> &JitterBufferConfig {
        &self.config
    }

    /// The delay the buffer steers towards, ms.
    pub fn target_delay_ms(&self) -> f64 {
        match (&self.controller, self.schedule) {
            (Some(c), _) => c.target_ms() as f64,
            (None, Schedule::Fixed { delay_ms, .. }) => delay_ms,
            (None, Schedule::Adaptive) => 0.0,
        }
    }

    /// The current delay the buffer holds, ms: the filtered packet level plus the decoded
    /// audio not yet played (NetEq's `FilteredCurrentDelayMs`); for the fixed mode, the
    /// packets' span plus that audio.
    pub fn buffer_level_ms(&self) -> f64 {
        let khz = f64::from(OUTPUT_RATE / 1000);
        let packets = match &self.controller {
            Some(c) => c.filter.level() as f64,
            None => self.span(self.tick).0 as f64,
        };
        (packets + self.sync.len() as f64) / khz
    }

    /// Samples stretched (removed or added) since the last call; the report's timeline.
    pub fn take_stretched(&mut self) -> u64 {
        std::mem::take(&mut self.stretched_in_step)
    }

    /// Stores a packet that arrived now.
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
        // Every packet is delay evidence, late ones most of all (NetEq's `PacketArrived`).
        let length = self.frame_len as i64;
        if let Some(c) = self.controller.as_mut() {
            c.packet_arrived(ts as i64, length, self.tick);
        }
        if self.started && ts < self.play_ts {
            self.stats.packets_late += 1;
            return Inserted::Late;
        }
        if self.packets.len() >= MAX_PACKETS {
            // NetEq flushes a full buffer and starts again at the newest packet.
            self.stats.packets_discarded += self.packets.len() as u64;
            self.packets.clear();
            if let Some(c) = self.controller.as_mut() {
                c.filter.set(0);
            }
            self.started = false;
            outcome = Inserted::StoredAfterFlush;
        }
        self.packets.insert(ts, Packet { seq, payload, tick: self.tick });
        if let Schedule::Fixed { first_arrival: first @ None, .. } = &mut self.schedule {
            *first = Some(now);
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
        self.noise_since = None;
        self.started = false;
        if let Some(c) = self.controller.as_mut() {
            c.soft_reset(self.tick);
        }
        if let Schedule::Fixed { first_arrival, .. } = &mut self.schedule {
            *first_arrival = None;
        }
        // Audio already decoded still plays; the new stream starts with its first packet.
    }

    /// Packets stored and not yet played.
    pub fn packets_buffered(&self) -> usize {
        self.packets.len()
    }

    /// Ends the stream: returns the decoded audio not yet played (less than a tick), without
    /// concealing anything after it. For when the sender is known to have stopped.
    pub fn flush(&mut self, _now: Timestamp) -> Vec<i16> {
        let out: Vec<i16> = self.sync.drain(..).collect();
        if self.decoded_played {
            self.stats.total_samples_received += out.len() as u64;
        }
        out
    }

    /// The next 10 ms of audio (480 samples at 48 kHz), to be played at `now`.
    pub fn pull(&mut self, now: Timestamp) -> Vec<i16> {
        self.tick += 1;
        match self.schedule {
            Schedule::Adaptive => self.tick_adaptive(),
            Schedule::Fixed { delay_ms, first_arrival } => self.tick_fixed(now, delay_ms, first_arrival),
        }
        if self.sync.is_empty() && !self.started {
            return vec![0; BLOCK];
        }
        let n = BLOCK.min(self.sync.len());
        let mut out: Vec<i16> = self.sync.drain(..n).collect();
        out.resize(BLOCK, 0);
        if self.decoded_played {
            self.stats.total_samples_received += BLOCK as u64;
        }
        self.played_tail.extend(&out);
        while self.played_tail.len() > expand_muting::HISTORY {
            self.played_tail.pop_front();
        }
        out
    }

    /// The packets' span (oldest to newest plus the newest's duration) and the same with the
    /// newest's waiting time instead, samples; a frame whose FEC is here counts as buffered.
    fn span(&self, tick: u64) -> (i64, i64) {
        let (Some((&first, _)), Some((&last, newest))) =
            (self.packets.first_key_value(), self.packets.last_key_value())
        else {
            return (0, 0);
        };
        let oldest = if self.fec_for(self.play_ts).is_some() { first.min(self.play_ts) } else { first };
        let base = (last - oldest) as i64;
        let waiting = (tick.saturating_sub(newest.tick) * BLOCK as u64) as i64;
        (base + self.frame_len as i64, base + waiting)
    }

    /// The packet whose in-band FEC rebuilds the frame at `ts`, if it is here and carries one.
    fn fec_for(&self, ts: u64) -> Option<u64> {
        let next = ts + self.frame_len as u64;
        (!self.packets.contains_key(&ts) && self.packets.get(&next).is_some_and(|p| self.decoder.has_fec(&p.payload)))
            .then_some(next)
    }

    fn next_packet(&self) -> Option<NextPacket> {
        if self.fec_for(self.play_ts).is_some() {
            return Some(NextPacket { ts: self.play_ts as i64, dtx: false });
        }
        let (&ts, p) = self.packets.range(self.play_ts..).next()?;
        Some(NextPacket { ts: ts as i64, dtx: self.decoder.is_comfort_noise(&p.payload) })
    }

    /// One NetEq tick: decide, then do it.
    fn tick_adaptive(&mut self) {
        if !self.started {
            let Some((&first, _)) = self.packets.first_key_value() else { return };
            self.started = true;
            self.play_ts = first;
        }
        // Packets playout has passed: no longer playable.
        while let Some(ts) = self.packets.first_key_value().map(|(&ts, _)| ts).filter(|&ts| ts < self.play_ts) {
            self.packets.remove(&ts);
            self.stats.packets_discarded += 1;
        }
        if !matches!(self.last_mode, Mode::Expand | Mode::CodecCng) {
            self.noise_since = None;
        }
        let (span, span_wait) = self.span(self.tick);
        let next = self.next_packet();
        let status = Status {
            target_ts: self.play_ts as i64,
            sync_samples: self.sync.len() as i64,
            last_mode: self.last_mode,
            next,
            span_samples: span,
            span_wait_samples: span_wait,
            dtx_in_buffer: self.packets.values().any(|p| self.decoder.is_comfort_noise(&p.payload)),
            mute_factor: self.mute_factor,
            generated_noise: self.noise_since.map_or(0, |t| ((self.tick - t) * BLOCK as u64) as i64),
        };
        let controller = self.controller.as_mut().expect("adaptive mode has a controller");
        let mut op = controller.decide(&status, self.tick);
        let stretch = matches!(
            op,
            Operation::Merge | Operation::Accelerate | Operation::FastAccelerate | Operation::PreemptiveExpand
        );
        if next.is_some_and(|n| n.dtx) && stretch {
            op = Operation::Normal;
        }
        let left = self.sync.len();
        let stretch = matches!(
            op,
            Operation::Merge | Operation::Accelerate | Operation::FastAccelerate | Operation::PreemptiveExpand
        );
        if left >= BLOCK && !stretch {
            return; // play what is already decoded; the mode stays
        }
        match op {
            Operation::Normal => self.normal(next),
            Operation::Merge => {
                if let Some(n) = next {
                    self.play_ts = n.ts as u64;
                }
                self.extract(1);
                self.last_mode = Mode::Merge;
            }
            Operation::Expand => self.expand(),
            Operation::CodecCng => self.comfort_noise(),
            Operation::Accelerate | Operation::FastAccelerate => self.accelerate(left),
            Operation::PreemptiveExpand => self.preemptive_expand(left),
            Operation::Undefined => {
                if let Some(n) = next {
                    self.play_ts = n.ts as u64;
                }
                let tick = self.tick;
                if let Some(c) = self.controller.as_mut() {
                    c.soft_reset(tick);
                }
                self.normal(next);
            }
        }
        // Whatever the operation, a tick's worth must be ready (a decode that failed conceals).
        while self.sync.len() < BLOCK {
            self.expand();
        }
    }

    /// Decodes the expected packet (or jumps to the next one after comfort noise).
    fn normal(&mut self, next: Option<NextPacket>) {
        if let Some(n) = next
            && n.ts as u64 != self.play_ts
        {
            // After comfort noise the next packet is played at once, without a merge.
            self.play_ts = n.ts as u64;
        }
        if self.extract(1) == 0 {
            self.expand();
        }
    }

    /// Decodes expected packets (or their FEC) until `min` samples are in hand; returns how
    /// many were decoded. Books NetEq's delay counters per packet taken out of the buffer.
    fn extract(&mut self, min: usize) -> usize {
        let mut got = 0;
        while got < min {
            let (pcm, waited_ticks, comfort) = if let Some(p) = self.packets.remove(&self.play_ts) {
                self.mark_played(p.seq);
                let comfort = self.decoder.is_comfort_noise(&p.payload);
                match self.decoder.decode(&p.payload) {
                    Ok(pcm) => (pcm, self.tick - p.tick, comfort),
                    Err(_) => {
                        self.stats.decode_errors += 1;
                        break;
                    }
                }
            } else if let Some(next) = self.fec_for(self.play_ts) {
                let (payload, tick) = (self.packets[&next].payload.clone(), self.packets[&next].tick);
                match self.decoder.decode_fec(&payload) {
                    Ok(Some(pcm)) => {
                        self.stats.fec_recovered += 1;
                        (pcm, self.tick - tick, false)
                    }
                    _ => break,
                }
            } else {
                break;
            };
            let n = pcm.len();
            if n == 0 {
                break;
            }
            self.book_extraction(n, waited_ticks);
            self.frame_len = n;
            self.play_ts += n as u64;
            got += n;
            if comfort {
                self.last_mode = Mode::CodecCng;
                self.noise_since.get_or_insert(self.tick);
            } else {
                self.decoded_played = true;
                self.last_rms = rms(&pcm);
                self.learn_noise(&pcm);
                self.last_mode = Mode::Normal;
                self.mute_factor = 1.0;
                self.in_concealment = false;
            }
            self.last_was_comfort_noise = comfort;
            self.sync.extend(pcm);
        }
        got
    }

    /// NetEq books these when a packet is taken out for decoding (`ExtractPackets`).
    fn book_extraction(&mut self, duration: usize, waited_ticks: u64) {
        let d = duration as f64;
        let (target, minimum) = match &self.controller {
            Some(c) => (c.target_ms() as f64, f64::from(c.delay.unlimited_target_ms())),
            None => (self.target_delay_ms(), self.target_delay_ms()),
        };
        self.stats.jitter_buffer_delay += waited_ticks as f64 * 0.010 * d;
        self.stats.jitter_buffer_target_delay += target / 1e3 * d;
        self.stats.jitter_buffer_minimum_delay += minimum / 1e3 * d;
        self.stats.jitter_buffer_emitted_count += duration as u64;
    }

    /// A rough background-noise energy for speech detection: the quietest decoded audio seen,
    /// creeping up slowly so a louder floor is learnt too (NetEq's `BackgroundNoise` does this
    /// with an LPC model; only its energy matters here).
    fn learn_noise(&mut self, pcm: &[i16]) {
        let e = pcm.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / pcm.len().max(1) as f64;
        let noise = self.noise_energy.get_or_insert(e);
        *noise = (*noise * 1.002).min(e);
    }

    /// Conceals one frame without moving the timeline: the missing packet is still expected.
    fn expand(&mut self) {
        if !self.in_concealment {
            let history: Vec<i16> = self.played_tail.iter().chain(&self.sync).copied().collect();
            self.muting = Some(ExpandMuting::analyse(&history));
        }
        let pcm = self.decoder.conceal();
        let n = pcm.len();
        self.mute_factor = if self.last_rms > 0.0 { (rms(&pcm) / self.last_rms).min(1.0) } else { 1.0 };
        if self.decoded_played {
            self.stats.concealed_samples += n as u64;
            // Noise, not voice, as NetEq books it: after comfort noise, once faded out, when
            // the codec's concealment is all zeros (`NetEqImpl::DoCodecPlc`), or once Expand
            // would have muted (`NetEqImpl::DoExpand`).
            let muted = self.muting.as_mut().map_or(0, |m| m.conceal(n));
            if self.last_was_comfort_noise || self.mute_factor == 0.0 || pcm.iter().all(|&v| v == 0) {
                self.stats.silent_concealed_samples += n as u64;
            } else {
                self.stats.silent_concealed_samples += muted as u64;
            }
            if !self.in_concealment {
                self.stats.concealment_events += 1;
            }
        }
        self.in_concealment = true;
        self.noise_since.get_or_insert(self.tick);
        self.last_mode = Mode::Expand;
        self.sync.extend(pcm);
    }

    /// The codec's comfort noise through a DTX gap: generated, not concealment.
    fn comfort_noise(&mut self) {
        let pcm = self.decoder.conceal();
        self.noise_since.get_or_insert(self.tick);
        self.last_mode = Mode::CodecCng;
        self.sync.extend(pcm);
    }

    /// Audio for a stretch: `borrow` already-played samples, then the decoded audio in hand.
    fn stretch_input(&mut self, borrow: usize) -> (Vec<i16>, usize) {
        let b = borrow.min(self.played_tail.len());
        let mut x: Vec<i16> = self.played_tail.iter().skip(self.played_tail.len() - b).copied().collect();
        x.extend(self.sync.drain(..));
        (x, b)
    }

    /// Accelerate (`NetEqImpl::GetDecision` extraction rules, then `DoAccelerate`).
    fn accelerate(&mut self, left: usize) {
        let frame_30 = self.frame_len >= INPUT;
        if left < INPUT {
            if left >= BLOCK && frame_30 {
                return; // play on without extracting
            }
            if left < 2 * BLOCK && !frame_30 {
                self.extract(2 * BLOCK);
                return; // build up audio; stretch next time
            }
            if self.extract(1) + left < INPUT {
                return; // not enough for a stretch: plays as Normal
            }
        }
        let in_hand = self.sync.len();
        self.controller.as_mut().expect("adaptive").stretch_started(in_hand as i64);
        let (mut x, borrowed) = self.stretch_input(0);
        let result = time_stretch::accelerate(&mut x, self.noise_energy.unwrap_or(DEFAULT_NOISE_ENERGY));
        self.sync.extend(&x[borrowed..]);
        self.finish_stretch(result, true);
    }

    /// Preemptive expand, with played audio borrowed when too little is decoded.
    fn preemptive_expand(&mut self, left: usize) {
        let frame_30 = self.frame_len >= INPUT;
        if !(left >= INPUT || (left >= BLOCK && frame_30)) {
            let want = if left < 2 * BLOCK && !frame_30 { 2 * BLOCK } else { 1 };
            self.extract(want);
        }
        let in_hand = self.sync.len();
        self.controller.as_mut().expect("adaptive").stretch_started(in_hand as i64);
        let (mut x, old) = self.stretch_input(INPUT.saturating_sub(in_hand));
        let result = time_stretch::preemptive_expand(&mut x, old, self.noise_energy.unwrap_or(DEFAULT_NOISE_ENERGY));
        self.sync.extend(&x[old..]);
        self.finish_stretch(result, false);
    }

    fn finish_stretch(&mut self, result: Stretch, accelerate: bool) {
        let p = result.samples() as u64;
        self.stretched_in_step += p;
        self.last_mode = match (accelerate, result) {
            (true, Stretch::Success(_)) => Mode::AccelerateSuccess,
            (true, Stretch::LowEnergy(_)) => Mode::AccelerateLowEnergy,
            (true, _) => Mode::AccelerateFail,
            (false, Stretch::Success(_)) => Mode::PreemptiveExpandSuccess,
            (false, Stretch::LowEnergy(_)) => Mode::PreemptiveExpandLowEnergy,
            (false, _) => Mode::PreemptiveExpandFail,
        };
        if accelerate {
            self.stats.removed_samples_for_acceleration += p;
            self.stats.accelerate_operations += u64::from(p > 0);
        } else {
            self.stats.inserted_samples_for_deceleration += p;
            self.stats.preemptive_expand_operations += u64::from(p > 0);
        }
    }

    /// The fixed mode: start `delay_ms` after the first packet arrived, then play on the
    /// timeline whatever is there, concealing what is not.
    fn tick_fixed(&mut self, now: Timestamp, delay_ms: f64, first_arrival: Option<Timestamp>) {
        if !self.started {
            let Some(first) = first_arrival else { return };
            if now < first + crate::time::millis_f64(delay_ms) {
                return;
            }
            self.started = true;
            self.play_ts = self.packets.first_key_value().map_or(0, |(&ts, _)| ts);
        }
        while self.sync.len() < BLOCK {
            let step = self.frame_len as u64;
            let next = self.packets.range(self.play_ts..).next().map(|(&ts, p)| (ts, p.seq));
            if self.extract(1) > 0 {
                continue;
            }
            match next {
                // A packet starts inside this frame (timestamps not on our frame grid): realign.
                Some((ts, _)) if ts > self.play_ts && ts < self.play_ts + step => self.play_ts = ts,
                // Contiguous sequence numbers across a timestamp gap: the sender was in DTX.
                Some((_, seq)) if self.last_seq.is_some_and(|s| seq == s + 1) => {
                    self.comfort_noise();
                    self.play_ts += step;
                }
                None if self.last_was_comfort_noise => {
                    self.comfort_noise();
                    self.play_ts += step;
                }
                _ => {
                    self.expand();
                    self.play_ts += step;
                }
            }
        }
    }

    fn mark_played(&mut self, seq: u64) {
        self.played.insert(seq);
        while self.played.len() > 1024 {
            self.played.pop_first();
        }
        self.last_seq = Some(self.last_seq.map_or(seq, |s| s.max(seq)));
    }
}
