//! The vocabulary of path statistics: a packet train sent through a path, and the statistics
//! of what comes out — measured by [`sample`](crate::sample), expected by
//! [`expectation`](crate::expectation).

use std::time::Duration;

use serde::Serialize;

use crate::time::Timestamp;

/// A packet train: `packets` packets of `size` bytes every `spacing`, like one RTP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Train {
    pub packets: u64,
    #[serde(serialize_with = "ser_ms")]
    pub spacing: Duration,
    pub size: u32,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

impl Train {
    /// A 20 ms voice stream: 100-byte packets (60 B of 24 kbit/s Opus + RTP/UDP/IPv4 headers).
    pub fn voice(packets: u64) -> Train {
        Train { packets, spacing: Duration::from_millis(20), size: 100 }
    }

    pub fn send_time(&self, i: u64) -> Timestamp {
        Timestamp::from_nanos(i * self.spacing.as_nanos() as u64)
    }
}

/// Path statistics, measured or expected. Keys are a public JSON interface.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PathStats {
    /// Fraction of packets with no delivered copy.
    pub loss_rate: f64,
    /// Mean length of runs of consecutive lost packets.
    pub mean_burst: Option<f64>,
    pub delay_ms_p50: Option<f64>,
    pub delay_ms_p95: Option<f64>,
    pub delay_ms_p99: Option<f64>,
    /// Fraction of delivered packets that arrived after a later-sent packet (RFC 4737).
    pub reorder_rate: f64,
    /// Extra copies per delivered packet.
    pub duplicate_rate: f64,
}
