//! Arrival delays relative to the fastest packet of the last two seconds (libwebrtc
//! `neteq/packet_arrival_history.cc`, `PacketArrivalHistory`). Arrival times are counted in
//! the buffer's 10 ms ticks, as NetEq counts them; the window is two seconds of RTP time. A
//! packet that is not the newest by timestamp is reordered: it is kept, but never becomes the
//! window's fastest or slowest reference.

use std::collections::{BTreeMap, VecDeque};

/// NetEq's `kPacketHistorySizeMs`.
pub const WINDOW_MS: i64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arrival {
    /// Unwrapped RTP timestamp, samples at `khz`.
    rtp: i64,
    /// Arrival, samples at `khz` (tick × 10 ms × khz).
    arrival: i64,
    length: i64,
}

impl Arrival {
    fn transit(&self) -> i64 {
        self.arrival - self.rtp
    }

    fn contains(&self, other: &Arrival) -> bool {
        self.rtp <= other.rtp && self.rtp + self.length >= other.rtp + other.length
    }
}

#[derive(Debug, Clone)]
pub struct ArrivalHistory {
    khz: i64,
    history: BTreeMap<i64, Arrival>,
    /// Timestamps of the window's packets with increasing (min) and decreasing (max) transit:
    /// the front is the window's fastest (slowest) in-order packet.
    min: VecDeque<i64>,
    max: VecDeque<i64>,
}

impl ArrivalHistory {
    /// Timestamps and lengths in samples at `sample_rate`.
    pub fn new(sample_rate: u32) -> ArrivalHistory {
        ArrivalHistory {
            khz: i64::from(sample_rate / 1000),
            history: BTreeMap::new(),
            min: VecDeque::new(),
            max: VecDeque::new(),
        }
    }

    fn arrival(&self, tick: u64) -> i64 {
        tick as i64 * 10 * self.khz
    }

    fn obsolete(&self, rtp: i64) -> bool {
        self.history.last_key_value().is_some_and(|(&newest, _)| rtp + WINDOW_MS * self.khz < newest)
    }

    /// Records a packet arriving at `tick`; `false` when it was not recorded (older than the
    /// window, or inside a packet already recorded, such as a duplicate).
    pub fn insert(&mut self, rtp: i64, length: i64, tick: u64) -> bool {
        let p = Arrival { rtp, arrival: self.arrival(tick), length };
        if self.obsolete(rtp) {
            return false;
        }
        if self.history.range(..=rtp).next_back().is_some_and(|(_, a)| a.contains(&p)) {
            return false;
        }
        self.history.insert(rtp, p);
        if self.history.last_key_value().is_some_and(|(&newest, _)| newest != rtp) {
            return true; // reordered: recorded, never a reference
        }
        while let Some((&oldest, _)) = self.history.first_key_value() {
            if !self.obsolete(oldest) {
                break;
            }
            self.history.remove(&oldest);
            if self.min.front() == Some(&oldest) {
                self.min.pop_front();
            }
            if self.max.front() == Some(&oldest) {
                self.max.pop_front();
            }
        }
        let transit = |ts: &i64, h: &BTreeMap<i64, Arrival>| h.get(ts).map_or(i64::MIN, Arrival::transit);
        while self.min.back().is_some_and(|b| p.transit() <= transit(b, &self.history)) {
            self.min.pop_back();
        }
        while self.max.back().is_some_and(|b| p.transit() >= transit(b, &self.history)) {
            self.max.pop_back();
        }
        self.min.push_back(rtp);
        self.max.push_back(rtp);
        true
    }

    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    /// How much later than the window's fastest packet would have brought it the sample with
    /// timestamp `rtp` is, at `tick`; ms, never negative (`GetDelayMs`). Each term is turned
    /// into whole ms first, as NetEq does.
    pub fn delay_ms(&self, rtp: i64, tick: u64) -> i32 {
        self.delay_of(rtp, self.arrival(tick))
    }

    fn delay_of(&self, rtp: i64, arrival: i64) -> i32 {
        let Some(m) = self.min.front().and_then(|ts| self.history.get(ts)) else { return 0 };
        let k = self.khz;
        ((arrival / k - m.arrival / k) - (rtp / k - m.rtp / k)).max(0) as i32
    }

    /// The slowest in-order packet's delay (`GetMaxDelayMs`): the window's spread of transit.
    pub fn max_delay_ms(&self) -> i32 {
        match self.max.front().and_then(|ts| self.history.get(ts)) {
            Some(p) => self.delay_of(p.rtp, p.arrival),
            None => 0,
        }
    }

    /// Whether `rtp` is the newest timestamp recorded.
    pub fn is_newest(&self, rtp: i64) -> bool {
        self.history.last_key_value().is_some_and(|(&newest, _)| newest == rtp)
    }

    pub fn reset(&mut self) {
        self.history.clear();
        self.min.clear();
        self.max.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> ArrivalHistory {
        ArrivalHistory::new(48_000)
    }

    /// `GetDelayMs` and `GetMaxDelayMs`: delay against the window's fastest packet.
    #[test]
    fn arrival_delay_and_window_maximum() {
        let mut h = history();
        let mut d = Vec::new();
        for (ts, ms) in [(0, 0u64), (960, 20), (1920, 70), (2880, 80)] {
            assert!(h.insert(ts, 960, ms / 10));
            d.push(h.delay_ms(ts, ms / 10));
        }
        assert_eq!(d, [0, 0, 30, 20]);
        assert_eq!(h.max_delay_ms(), 30);
    }

    /// Playout delay: the sample being played against the fastest packet.
    #[test]
    fn playout_delay() {
        let mut h = history();
        h.insert(0, 960, 0);
        h.insert(960, 960, 2);
        assert_eq!(h.delay_ms(1920, 10), 60, "(100 − 0) − (40 − 0)");
    }

    /// The window is 2 s of RTP time; equality is not obsolete.
    #[test]
    fn two_second_window_on_rtp_time() {
        let mut h = history();
        for (ts, ms) in [(0, 0u64), (960, 20), (1920, 70), (2880, 80)] {
            h.insert(ts, 960, ms / 10);
        }
        // On-time packets from here on: arrival (ms) = timestamp (ms).
        let mut ts = 2880;
        while ts < 1920 + 96_000 {
            ts += 960;
            h.insert(ts, 960, (ts / 480) as u64);
        }
        assert_eq!(ts, 1920 + 96_000);
        assert_eq!(h.max_delay_ms(), 30, "p2 is exactly 2 s old: still in the window");
        ts += 960;
        h.insert(ts, 960, (ts / 480) as u64);
        assert_eq!(h.max_delay_ms(), 20, "p2 pruned: p3 (20 ms) is the slowest left");
    }

    /// Reordered packets are recorded but never references; contained ones are rejected.
    #[test]
    fn reordered_overlapping_and_duplicate_packets() {
        let mut h = history();
        for (ts, ms) in [(0, 0u64), (960, 20), (2880, 60)] {
            h.insert(ts, 960, ms / 10);
        }
        assert!(h.insert(1920, 960, 9));
        assert!(!h.is_newest(1920), "reordered");
        assert_eq!(h.delay_ms(1920, 9), 50, "(90 − 60) − (40 − 60): against p3");
        assert_eq!(h.max_delay_ms(), 0, "a reordered packet does not widen the window");
        assert!(!h.insert(960, 960, 10), "a duplicate is contained");
        assert!(!h.insert(2400, 480, 10), "inside p2's [1920, 2880]");
        assert!(h.insert(3840, 960, 10));
        assert!(!h.insert(3840 - 96_000 - 960, 960, 10), "older than the window");
    }
}
