//! Jitter-buffer counters, named after WebRTC's `RTCInboundRtpStreamStats` (in snake_case).

use serde::{Deserialize, Serialize};

/// Counters since the buffer was created, moved when NetEq moves them: the delay family when a
/// packet is taken out for decoding (sums of seconds × samples, as getStats defines them:
/// divide by `jitter_buffer_emitted_count`, the samples decoded, for the mean), the rest only
/// once decoded audio has been played. Comfort noise through DTX is not concealment.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct JitterBufferStats {
    pub packets_received: u64,
    pub packets_duplicated: u64,
    /// Arrived after their playout time (late loss).
    pub packets_late: u64,
    /// Dropped because the buffer was full or the stream restarted.
    pub packets_discarded: u64,
    pub decode_errors: u64,
    /// Lost frames rebuilt from the next packet's in-band FEC.
    pub fec_recovered: u64,
    pub ssrc_changes: u64,
    pub jitter_buffer_delay: f64,
    pub jitter_buffer_target_delay: f64,
    /// The delay manager's own target before any limit, summed like the target.
    #[serde(default)]
    pub jitter_buffer_minimum_delay: f64,
    pub jitter_buffer_emitted_count: u64,
    pub total_samples_received: u64,
    pub concealed_samples: u64,
    /// Concealment of silence: after comfort noise, or once it has faded out (a subset of
    /// `concealed_samples`).
    pub silent_concealed_samples: u64,
    pub concealment_events: u64,
    pub inserted_samples_for_deceleration: u64,
    pub removed_samples_for_acceleration: u64,
    pub accelerate_operations: u64,
    pub preemptive_expand_operations: u64,
}

impl JitterBufferStats {
    /// Mean time emitted samples spent in the buffer, in milliseconds.
    pub fn mean_delay_ms(&self) -> Option<f64> {
        (self.jitter_buffer_emitted_count > 0)
            .then(|| self.jitter_buffer_delay / self.jitter_buffer_emitted_count as f64 * 1e3)
    }

    /// Mean target delay of emitted samples, in milliseconds.
    pub fn mean_target_delay_ms(&self) -> Option<f64> {
        (self.jitter_buffer_emitted_count > 0)
            .then(|| self.jitter_buffer_target_delay / self.jitter_buffer_emitted_count as f64 * 1e3)
    }

    /// Samples added or removed by time-stretching over all samples played.
    pub fn stretched_ratio(&self) -> f64 {
        let stretched = self.inserted_samples_for_deceleration + self.removed_samples_for_acceleration;
        crate::metrics::concealment_ratio(stretched, self.total_samples_received)
    }

    /// Concealed samples NetEq books as voice (not silent) over all samples played: the share
    /// getStats users compute, and what the calibration compares with Chromium's. A dropout
    /// that Expand has muted is silent here; results' `concealment_ratio` counts it.
    pub fn voice_concealment_ratio(&self) -> f64 {
        if self.total_samples_received == 0 {
            0.0
        } else {
            (self.concealed_samples - self.silent_concealed_samples) as f64 / self.total_samples_received as f64
        }
    }
}

/// Spacing of the points of a buffer's timeline ([`JbPoint`]), ms.
pub const TIMELINE_STEP_MS: u64 = 100;

/// The buffer at one moment of a call (what a report plots for a chosen call).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JbPoint {
    pub t_ms: u64,
    /// The delay the buffer steers towards, and what it holds, ms.
    pub target_ms: f64,
    pub level_ms: f64,
    /// Share of the samples played in the step that were concealed.
    pub concealed: f64,
    /// Samples removed or added by time-stretching in the step, over the samples played.
    pub stretched: f64,
}
