//! What to do each 10 ms tick (libwebrtc `neteq/decision_logic.cc`, `DecisionLogic`): play
//! on, time-stretch, conceal, wait, or move past a gap — from where playout stands against
//! the target and the window of arrival delays. Sans-I/O: the buffer hands in its status and
//! the tick, and gets an operation back.

use super::arrival_history::ArrivalHistory;
use super::delay_manager::DelayManager;
use super::level_filter::LevelFilter;

/// NetEq's `kMinTimescaleInterval`: ticks after a successful stretch before the next.
const MIN_TIMESCALE_INTERVAL: u64 = 5;
/// `kDelayAdjustmentGranularityMs`: added to the band's upper limit.
const GRANULARITY_MS: i64 = 20;
/// `kPostponeDecodingLevel`: percent of the target under which decoding waits after a gap.
const POSTPONE_LEVEL_PERCENT: i64 = 50;
/// Half of `kTargetLevelWindowMs`.
const TARGET_WINDOW_HALF_MS: i64 = 50;
/// `kCngTimeoutMs`.
const CNG_TIMEOUT_MS: i64 = 1000;

/// An operation (`NetEq::Operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Normal,
    /// Blend a concealment into the first packet after a gap (here: play that packet).
    Merge,
    /// Conceal, without moving the timeline: the missing packet is still expected.
    Expand,
    Accelerate,
    FastAccelerate,
    PreemptiveExpand,
    /// Codec comfort noise (Opus DTX).
    CodecCng,
    /// Start over at the next packet (a new stream).
    Undefined,
}

/// What the last tick did (`NetEq::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Merge,
    Expand,
    AccelerateSuccess,
    AccelerateLowEnergy,
    AccelerateFail,
    PreemptiveExpandSuccess,
    PreemptiveExpandLowEnergy,
    PreemptiveExpandFail,
    CodecCng,
}

impl Mode {
    fn successful_stretch(self) -> bool {
        matches!(
            self,
            Mode::AccelerateSuccess
                | Mode::AccelerateLowEnergy
                | Mode::PreemptiveExpandSuccess
                | Mode::PreemptiveExpandLowEnergy
        )
    }
}

/// The next packet in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextPacket {
    pub ts: i64,
    /// Opus DTX (a payload of at most 2 bytes).
    pub dtx: bool,
}

/// What the buffer reports before each decision (`NetEqController::NetEqStatus`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    /// Timestamp of the next sample to decode (the decoded audio's end).
    pub target_ts: i64,
    /// Decoded samples not yet played.
    pub sync_samples: i64,
    pub last_mode: Mode,
    pub next: Option<NextPacket>,
    /// Oldest to newest packet, plus the newest's duration, samples.
    pub span_samples: i64,
    /// The same with the newest packet's time waiting instead of its duration.
    pub span_wait_samples: i64,
    pub dtx_in_buffer: bool,
    /// The concealment's gain, 1 until concealment fades (NetEq's expand mute factor).
    pub mute_factor: f64,
    /// Concealment and comfort noise played since the gap began, samples.
    pub generated_noise: i64,
}

/// The controller: arrival history, delay manager, level filter and the timescale countdown.
#[derive(Debug, Clone)]
pub struct Controller {
    khz: i64,
    pub history: ArrivalHistory,
    pub delay: DelayManager,
    pub filter: LevelFilter,
    /// (tick it started, length) of the timescale countdown.
    countdown: Option<(u64, u64)>,
    /// Samples a pending stretch started with, settled on the next tick.
    sample_memory: i64,
    prev_time_scale: bool,
    tick: u64,
}

impl Controller {
    pub fn new(sample_rate: u32, delay: DelayManager) -> Controller {
        Controller {
            khz: i64::from(sample_rate / 1000),
            history: ArrivalHistory::new(sample_rate),
            delay,
            filter: LevelFilter::default(),
            countdown: Some((0, MIN_TIMESCALE_INTERVAL + 1)),
            sample_memory: 0,
            prev_time_scale: false,
            tick: 0,
        }
    }

    /// A new stream: start over, as `SoftReset` does.
    pub fn soft_reset(&mut self, tick: u64) {
        self.delay.reset();
        self.history.reset();
        self.filter.reset();
        self.countdown = Some((tick, MIN_TIMESCALE_INTERVAL + 1));
        self.prev_time_scale = false;
        self.sample_memory = 0;
    }

    /// A packet arrived at `tick` (`DecisionLogic::PacketArrived`): feeds the arrival history
    /// and, once two packets are known, the delay manager.
    pub fn packet_arrived(&mut self, rtp: i64, length: i64, tick: u64) {
        if length > 0 {
            self.delay.set_packet_ms((length / self.khz) as i32);
        }
        if !self.history.insert(rtp, length, tick) || self.history.len() < 2 {
            return;
        }
        let delay_ms = self.history.delay_ms(rtp, tick);
        let reordered = !self.history.is_newest(rtp);
        self.delay.update(delay_ms, reordered, tick);
    }

    /// The target after the limits (`TargetLevelMs`).
    pub fn target_ms(&self) -> i64 {
        i64::from(self.delay.target_ms())
    }

    /// A stretch was decided with `samples` in hand (decoded and extracted).
    pub fn stretch_started(&mut self, samples: i64) {
        self.sample_memory = samples;
        self.prev_time_scale = true;
    }

    fn timescale_allowed(&self) -> bool {
        self.countdown.is_none_or(|(start, n)| self.tick - start >= n)
    }

    fn playout_delay_ms(&self, s: &Status) -> i64 {
        i64::from(self.history.delay_ms(s.target_ts - s.sync_samples, self.tick))
    }

    /// The operation for this tick (`DecisionLogic::GetDecision`).
    pub fn decide(&mut self, s: &Status, tick: u64) -> Operation {
        self.tick = tick;
        // Settle the previous stretch: what it removed or added shows in the filtered level.
        let stretched = if s.last_mode.successful_stretch() { self.sample_memory - (s.sync_samples + 480) } else { 0 };
        if self.prev_time_scale {
            self.prev_time_scale = s.last_mode.successful_stretch();
            if self.prev_time_scale {
                self.countdown = Some((tick, MIN_TIMESCALE_INTERVAL));
            }
        }
        if !matches!(s.last_mode, Mode::CodecCng | Mode::Expand) {
            self.filter.set_target(self.target_ms() as i32);
            self.filter.update(s.span_samples, stretched);
        }
        let Some(next) = s.next else { return self.no_packet(s) };
        if self.postpone_decoding(s) {
            return self.no_packet(s);
        }
        if next.ts == s.target_ts {
            return self.expected_packet(s);
        }
        if next.ts > s.target_ts {
            return self.future_packet(s, next);
        }
        Operation::Undefined
    }

    /// `DecisionLogic::ExpectedPacketAvailable`: the band [target, target + the window's
    /// largest arrival delay + 20 ms), at most one stretch per countdown.
    fn expected_packet(&self, s: &Status) -> Operation {
        if s.last_mode == Mode::Expand {
            return Operation::Normal;
        }
        let playout = self.playout_delay_ms(s);
        let low = self.target_ms();
        let high = low + i64::from(self.history.max_delay_ms()) + GRANULARITY_MS;
        if playout >= 4 * high {
            return Operation::FastAccelerate;
        }
        if self.timescale_allowed() {
            if playout >= high {
                return Operation::Accelerate;
            }
            if playout < low {
                return Operation::PreemptiveExpand;
            }
        }
        Operation::Normal
    }

    /// `DecisionLogic::FuturePacketAvailable`: wait (conceal) while the missing audio is not
    /// yet covered and the buffer is not over target + 50 ms; otherwise move on.
    fn future_packet(&mut self, s: &Status, next: NextPacket) -> Operation {
        let buffer_ms = s.span_wait_samples / self.khz;
        let leap = next.ts - s.target_ts;
        let too_early = leap > s.generated_noise;
        if too_early && buffer_ms <= self.target_ms() + TARGET_WINDOW_HALF_MS {
            return self.no_packet(s);
        }
        if leap != s.generated_noise {
            self.filter.set(s.span_wait_samples);
        }
        match s.last_mode {
            Mode::Expand => Operation::Merge,
            Mode::CodecCng => Operation::Normal,
            _ => Operation::Expand,
        }
    }

    /// `DecisionLogic::NoPacket`: comfort noise carries on for a second, then concealment.
    fn no_packet(&self, s: &Status) -> Operation {
        if s.last_mode == Mode::CodecCng && s.generated_noise <= CNG_TIMEOUT_MS * self.khz {
            return Operation::CodecCng;
        }
        Operation::Expand
    }

    /// `DecisionLogic::PostponeDecode`: after a long gap, wait until half the target is here.
    fn postpone_decoding(&self, s: &Status) -> bool {
        let low = s.span_wait_samples < self.target_ms() * self.khz * POSTPONE_LEVEL_PERCENT / 100;
        let after_gap = s.last_mode == Mode::CodecCng || (s.last_mode == Mode::Expand && s.mute_factor < 0.5);
        low && !s.dtx_in_buffer && after_gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitter_buffer::delay_manager::Strategy;

    /// A controller whose target is 80 ms and whose window's largest delay is 30 ms, so the
    /// band is [80, 130).
    fn controller() -> Controller {
        let mut c = Controller::new(48_000, DelayManager::new(Strategy::Balanced, 0.0, None));
        // p0 on time, p1 30 ms late: the window's spread is 30 ms; the target stays at its
        // 80 ms start (no histogram update yet).
        c.packet_arrived(0, 960, 0);
        c.packet_arrived(960, 960, 5);
        assert_eq!((c.target_ms(), c.history.max_delay_ms()), (80, 30));
        c
    }

    /// The status for a playout delay of `delay_ms` at tick 100 with the expected packet next.
    fn expected_at(delay_ms: i64) -> Status {
        expected_at_tick(delay_ms, 100)
    }

    fn expected_at_tick(delay_ms: i64, tick: i64) -> Status {
        // Playout ts = target − sync; p0's reference transit is 0, so the delay is
        // now − playout_ts (ms).
        let playout_ms = tick * 10 - delay_ms;
        assert!(playout_ms >= 0);
        let sync = 480;
        let target_ts = playout_ms * 48 + sync;
        Status {
            target_ts,
            sync_samples: sync,
            last_mode: Mode::Normal,
            next: Some(NextPacket { ts: target_ts, dtx: false }),
            span_samples: 960,
            span_wait_samples: 960,
            dtx_in_buffer: false,
            mute_factor: 1.0,
            generated_noise: 0,
        }
    }

    /// `ExpectedPacketAvailable`'s band arithmetic.
    #[test]
    fn band_arithmetic() {
        let mut c = controller();
        for (delay, op) in [
            (79, Operation::PreemptiveExpand),
            (80, Operation::Normal),
            (129, Operation::Normal),
            (130, Operation::Accelerate),
            (519, Operation::Accelerate),
            (520, Operation::FastAccelerate),
        ] {
            assert_eq!(c.decide(&expected_at(delay), 100), op, "playout delay {delay} ms");
        }
    }

    /// The countdown allows one stretch per 6 ticks; a fresh controller waits 6 ticks; a
    /// failed stretch does not restart it; fast accelerate ignores it.
    #[test]
    fn timescale_countdown() {
        let mut c = controller();
        // Early in a call playout is short of the 80 ms target: preemptive expand is due.
        let early = |t: i64| expected_at_tick(20, t.max(2));
        let ops: Vec<Operation> = (1..=6).map(|t| c.decide(&early(t as i64), t)).collect();
        assert_eq!(&ops[..5], &[Operation::Normal; 5], "the first 6 ticks of a stream");
        assert_eq!(ops[5], Operation::PreemptiveExpand);
        c.stretch_started(1920);
        let after = Status { last_mode: Mode::PreemptiveExpandSuccess, sync_samples: 1200, ..early(7) };
        assert_eq!(c.decide(&after, 7), Operation::Normal, "the countdown restarts");
        for t in 8..=11 {
            assert_eq!(c.decide(&early(t), t as u64), Operation::Normal, "tick {t}");
        }
        assert_eq!(c.decide(&early(12), 12), Operation::PreemptiveExpand);
        c.stretch_started(1920);
        let failed = Status { last_mode: Mode::PreemptiveExpandFail, ..early(13) };
        assert_eq!(c.decide(&failed, 13), Operation::PreemptiveExpand, "a failed stretch does not restart it");
        let mut d = controller();
        d.countdown = Some((100, MIN_TIMESCALE_INTERVAL));
        assert_eq!(d.decide(&expected_at(200), 101), Operation::Normal, "a running countdown");
        assert_eq!(d.decide(&expected_at(520), 101), Operation::FastAccelerate, "ignores the countdown");
    }

    /// No stretching right after a concealment.
    #[test]
    fn no_stretch_after_expand() {
        let mut c = controller();
        let s = Status { last_mode: Mode::Expand, ..expected_at(200) };
        assert_eq!(c.decide(&s, 100), Operation::Normal);
    }

    /// `PostponeDecode`: target 80 ms → half is 1920 samples.
    #[test]
    fn postpone_decoding() {
        let mut c = controller();
        let gap = Status {
            last_mode: Mode::Expand,
            mute_factor: 0.4,
            span_wait_samples: 1900,
            next: Some(NextPacket { ts: 0, dtx: false }),
            ..expected_at(100)
        };
        assert_eq!(c.decide(&gap, 100), Operation::Expand);
        assert_ne!(c.decide(&Status { mute_factor: 0.5, ..gap }, 100), Operation::Expand);
        assert_ne!(c.decide(&Status { dtx_in_buffer: true, ..gap }, 100), Operation::Expand);
        assert_eq!(c.decide(&Status { last_mode: Mode::CodecCng, ..gap }, 100), Operation::CodecCng);
    }

    /// `FuturePacketAvailable`: wait while too early and not over target + 50 ms.
    #[test]
    fn future_packet() {
        let mut c = controller();
        let s = Status {
            target_ts: 9600,
            next: Some(NextPacket { ts: 10_560, dtx: false }),
            last_mode: Mode::Expand,
            generated_noise: 480,
            span_wait_samples: 100 * 48,
            ..expected_at(100)
        };
        assert_eq!(c.decide(&s, 100), Operation::Expand, "too early: keep concealing");
        assert_eq!(c.decide(&Status { generated_noise: 960, ..s }, 100), Operation::Merge);
        assert_eq!(c.decide(&Status { span_wait_samples: 131 * 48, ..s }, 100), Operation::Merge);
        let after_normal = Status { last_mode: Mode::Normal, generated_noise: 960, ..s };
        assert_eq!(c.decide(&after_normal, 100), Operation::Expand);
    }

    /// Comfort noise gives way to concealment after a second.
    #[test]
    fn cng_timeout() {
        let mut c = controller();
        let s = Status { next: None, last_mode: Mode::CodecCng, generated_noise: 48_000, ..expected_at(100) };
        assert_eq!(c.decide(&s, 100), Operation::CodecCng);
        assert_eq!(c.decide(&Status { generated_noise: 48_001, ..s }, 100), Operation::Expand);
    }
}
