//! A rate-limited link with a drop-tail queue, optionally shared with fluid cross traffic.

use std::time::Duration;

use crate::profile::Rate;
use crate::time::Timestamp;

/// Bottleneck queue state. The backlog is counted in bytes and drains at the link rate; fluid
/// cross traffic adds its bytes continuously, so a load near the link rate keeps the buffer
/// standing full — bufferbloat — and a packet that does not fit is dropped (tail drop).
#[derive(Debug, Clone, Default)]
pub struct RateQueue {
    backlog_bytes: f64,
    last: Timestamp,
}

impl RateQueue {
    /// Offers a packet of `size` bytes at `now`; returns its time in queue and on the wire, or
    /// `None` when the queue is full. `now` must not go backwards.
    pub fn offer(&mut self, rate: &Rate, now: Timestamp, size: u32) -> Option<Duration> {
        let dt = now.saturating_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        let net_drain = rate.bytes_per_sec() - rate.cross_bytes_per_sec();
        self.backlog_bytes = (self.backlog_bytes - net_drain * dt).max(0.0);
        let size = size as f64;
        if self.backlog_bytes + size > rate.queue_bytes as f64 {
            return None;
        }
        self.backlog_bytes += size;
        Some(Duration::from_nanos(libm::round(self.backlog_bytes / rate.bytes_per_sec() * 1e9) as u64))
    }

    /// Forgets the backlog (the rate limit was lifted by a schedule segment).
    pub fn reset(&mut self, now: Timestamp) {
        self.backlog_bytes = 0.0;
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unloaded_link_adds_serialisation_only() {
        let rate = Rate { kbit: 80.0, queue_bytes: 1000, cross_traffic_kbit: 0.0 };
        let mut q = RateQueue::default();
        for i in 0..100 {
            let d = q.offer(&rate, Timestamp::from_millis(20 * i), 100).unwrap();
            assert_eq!(d, Duration::from_millis(10)); // 100 B at 10 kB/s
        }
    }

    #[test]
    fn overload_fills_queue_and_drops_tail() {
        // 100 B every 20 ms = 5 kB/s offered into 4 kB/s: a fifth is dropped, delay ≈ queue / rate.
        let rate = Rate { kbit: 32.0, queue_bytes: 2000, cross_traffic_kbit: 0.0 };
        let mut q = RateQueue::default();
        let (mut dropped, mut last_delay) = (0, Duration::ZERO);
        for i in 0..10_000 {
            match q.offer(&rate, Timestamp::from_millis(20 * i), 100) {
                Some(d) => last_delay = d,
                None => dropped += 1,
            }
        }
        assert!((dropped as f64 / 10_000.0 - 0.2).abs() < 0.01, "dropped {dropped}");
        assert!(last_delay <= Duration::from_millis(500) && last_delay > Duration::from_millis(475));
    }
}
