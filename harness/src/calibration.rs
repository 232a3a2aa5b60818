//! Our jitter buffer against Chromium's NetEq on the same downlink: the packets a browser
//! received (arrival times from the relay's capture, payloads from the agent's plaintext
//! record) replayed through our buffer, its figures beside the ones the browser's getStats
//! reported for the same call. Chromium's NetEq is the reference: where the two disagree
//! beyond the bands, ours is wrong.

use std::fmt::Write;
use std::time::Duration;

use jitterbug_core::replay_result::ReplayResult;
use jitterbug_core::results::Percentiles;
use serde::Serialize;
use serde_json::Value;

/// One receiver's figures over a call, as getStats defines them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BufferFigures {
    /// (inserted + removed samples) / totalSamplesReceived.
    pub stretched_share: f64,
    /// (concealed − silent concealed) / totalSamplesReceived.
    pub concealed_share: f64,
    /// concealed / totalSamplesReceived, silent concealment included.
    pub concealed_all_share: f64,
    /// jitterBufferTargetDelay / jitterBufferEmittedCount, ms, and the 95th percentile of the
    /// target over the call.
    pub target_ms: f64,
    pub target_p95_ms: f64,
    /// jitterBufferDelay / jitterBufferEmittedCount, ms.
    pub delay_ms: f64,
    pub samples: u64,
}

/// A getStats counter of an inbound-rtp report (0 when absent).
fn counter(inbound: &Value, name: &str) -> f64 {
    inbound.get(name).and_then(Value::as_f64).unwrap_or(0.0)
}

impl BufferFigures {
    /// Chromium's, from the page's getStats series (`[{t_ms, inbound: {…}}, …]`): totals from
    /// the last sample, the target's p95 over the sampling intervals (Δtarget / Δemitted).
    pub fn from_get_stats(series: &[Value]) -> Option<BufferFigures> {
        let inbound: Vec<&Value> = series.iter().filter_map(|s| s.get("inbound").filter(|v| !v.is_null())).collect();
        let last = *inbound.last()?;
        let c = |name| counter(last, name);
        let total = c("totalSamplesReceived");
        let emitted = c("jitterBufferEmittedCount");
        if total <= 0.0 || emitted <= 0.0 {
            return None;
        }
        let per_interval: Vec<f64> = inbound
            .windows(2)
            .filter_map(|w| {
                let de = counter(w[1], "jitterBufferEmittedCount") - counter(w[0], "jitterBufferEmittedCount");
                let dt = counter(w[1], "jitterBufferTargetDelay") - counter(w[0], "jitterBufferTargetDelay");
                (de > 0.0).then(|| dt / de * 1e3)
            })
            .collect();
        Some(BufferFigures {
            stretched_share: (c("insertedSamplesForDeceleration") + c("removedSamplesForAcceleration")) / total,
            concealed_share: (c("concealedSamples") - c("silentConcealedSamples")) / total,
            concealed_all_share: c("concealedSamples") / total,
            target_ms: c("jitterBufferTargetDelay") / emitted * 1e3,
            target_p95_ms: Percentiles::of(&per_interval).map_or(0.0, |p| p.p95),
            delay_ms: c("jitterBufferDelay") / emitted * 1e3,
            samples: total as u64,
        })
    }

    /// Ours, from a replay.
    pub fn from_replay(r: &ReplayResult) -> BufferFigures {
        BufferFigures {
            stretched_share: r.stretched_share,
            concealed_share: r.concealed_share,
            concealed_all_share: jitterbug_core::metrics::concealment_ratio(
                r.jitter_buffer.concealed_samples,
                r.jitter_buffer.total_samples_received,
            ),
            target_ms: r.target_delay_ms,
            target_p95_ms: r.target_delay_p95_ms,
            delay_ms: r.buffer_delay_ms,
            samples: r.jitter_buffer.total_samples_received,
        }
    }
}

/// When the page took its last getStats sample, since the UNIX epoch: the replay stops there,
/// so both receivers are judged over the same audio.
pub fn last_sample_unix(page: &Value) -> Option<Duration> {
    let offer_ms = page.get("offer_unix_ms")?.as_f64()?;
    let last = page.get("stats")?.as_array()?.iter().rev().find(|s| s.get("inbound").is_some_and(|v| !v.is_null()))?;
    Some(Duration::from_secs_f64((offer_ms + last.get("t_ms")?.as_f64()?) / 1e3))
}

/// How far ours may be from Chromium's (the issue's bands; widened only with the spread of
/// repeated calls recorded beside them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    /// Ours stretches at most max(factor × Chromium's, Chromium's + points).
    pub stretch_factor: f64,
    pub stretch_points: f64,
    /// On the calibration profiles and on loss-free calls. On a lossy validation call the
    /// concealment is mostly the concealer's account of the lost frames (ours the codec's PLC
    /// booked as Expand would, Chromium's Expand and Merge): there it is reported, and ours
    /// may add at most this much beyond the audio the network lost.
    pub concealed_points: f64,
    pub target_ms: f64,
    /// On loss-free calls only: elsewhere STOI measures the concealer (ours is libopus PLC,
    /// Chromium's NetEq's Expand), not the buffer.
    pub stoi: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Bands { stretch_factor: 2.0, stretch_points: 0.005, concealed_points: 0.005, target_ms: 25.0, stoi: 0.02 }
    }
}

/// One receiver of one call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Receiver {
    pub figures: BufferFigures,
    pub stoi: f64,
}

/// What the agent's buffer did with the uplink Chromium sent (reported, not banded).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Uplink {
    pub stretched_share: f64,
    pub concealed_share: f64,
    pub stoi: f64,
}

impl Uplink {
    pub fn of(d: &jitterbug_core::results::DirectionResult) -> Uplink {
        let s = &d.jitter_buffer;
        Uplink { stretched_share: s.stretched_ratio(), concealed_share: s.voice_concealment_ratio(), stoi: d.stoi }
    }
}

/// What a profile is for in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The port was tuned until these passed every band.
    Calibration,
    /// Checked untouched: the buffer's bands, with concealment reported.
    Validation,
}

/// Both receivers of one call's downlink, and the agent's of its uplink.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub profile: String,
    pub role: Role,
    pub chromium_version: String,
    pub call_seconds: f64,
    /// No downlink packet was lost on the way (the capture's sequence numbers are complete).
    pub loss_free: bool,
    /// The lost packets' share of the samples played (lost × frame / totalSamplesReceived).
    pub lost_share: f64,
    pub chromium: Receiver,
    pub ours: Receiver,
    pub uplink: Uplink,
}

impl Comparison {
    /// Every band ours falls outside of, in words.
    pub fn failures(&self, b: &Bands) -> Vec<String> {
        let (c, o) = (&self.chromium.figures, &self.ours.figures);
        let mut out = Vec::new();
        let stretch_limit = (b.stretch_factor * c.stretched_share).max(c.stretched_share + b.stretch_points);
        if o.stretched_share > stretch_limit {
            out.push(format!(
                "stretched {:.2} % > {:.2} % (Chromium {:.2} %)",
                o.stretched_share * 100.0,
                stretch_limit * 100.0,
                c.stretched_share * 100.0
            ));
        }
        let conc = o.concealed_share - c.concealed_share;
        let banded = self.loss_free || self.role == Role::Calibration;
        if banded && conc.abs() > b.concealed_points {
            out.push(format!(
                "concealed {:.2} % vs Chromium {:.2} % (band ±{:.1} pp)",
                o.concealed_share * 100.0,
                c.concealed_share * 100.0,
                b.concealed_points * 100.0
            ));
        }
        if !self.loss_free && o.concealed_all_share > self.lost_share + b.concealed_points {
            out.push(format!(
                "concealed {:.2} % (silent included) with {:.2} % of the audio lost on the way: the buffer adds more than {:.1} pp",
                o.concealed_all_share * 100.0,
                self.lost_share * 100.0,
                b.concealed_points * 100.0
            ));
        }
        for (what, ours, theirs) in
            [("mean target", o.target_ms, c.target_ms), ("p95 target", o.target_p95_ms, c.target_p95_ms)]
        {
            if (ours - theirs).abs() > b.target_ms {
                out.push(format!("{what} {ours:.1} ms vs Chromium {theirs:.1} ms (band ±{} ms)", b.target_ms));
            }
        }
        if self.loss_free && (self.ours.stoi - self.chromium.stoi).abs() > b.stoi {
            out.push(format!("STOI {:.3} vs Chromium {:.3} (band ±{})", self.ours.stoi, self.chromium.stoi, b.stoi));
        }
        out.into_iter().map(|f| format!("{}: {f}", self.profile)).collect()
    }
}

/// The comparisons as a Markdown table (the README's).
pub fn table(rows: &[Comparison]) -> String {
    let mut s = String::from(
        "| Profile | Call | Stretched: Chromium / ours | Concealed: Chromium / ours (all, silent included; lost on the way) | Mean target, ms | p95 target, ms | Buffer delay, ms | STOI downlink: Chromium / ours | Uplink (agent's buffer): stretched, concealed, STOI |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (c, o, u) = (&r.chromium.figures, &r.ours.figures, &r.uplink);
        let _ = writeln!(
            s,
            "| {}{} | {:.0} s | {:.2} % / {:.2} % | {:.2} % / {:.2} % ({:.2} % / {:.2} %; {:.2} %) | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.3} / {:.3}{} | {:.2} %, {:.2} %, {:.3} |",
            r.profile,
            match (r.role, r.loss_free) {
                (Role::Calibration, true) => "",
                (Role::Calibration, false) => " (lossy)",
                (Role::Validation, true) => " (validation)",
                (Role::Validation, false) => " (validation, lossy: concealment not banded)",
            },
            r.call_seconds,
            c.stretched_share * 100.0,
            o.stretched_share * 100.0,
            c.concealed_share * 100.0,
            o.concealed_share * 100.0,
            c.concealed_all_share * 100.0,
            o.concealed_all_share * 100.0,
            r.lost_share * 100.0,
            c.target_ms,
            o.target_ms,
            c.target_p95_ms,
            o.target_p95_ms,
            c.delay_ms,
            o.delay_ms,
            r.chromium.stoi,
            r.ours.stoi,
            if r.loss_free { "" } else { " (not banded)" },
            u.stretched_share * 100.0,
            u.concealed_share * 100.0,
            r.uplink.stoi,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(t_ms: f64, emitted: f64, target_s: f64) -> Value {
        json!({"t_ms": t_ms, "inbound": {
            "totalSamplesReceived": emitted, "jitterBufferEmittedCount": emitted,
            "jitterBufferTargetDelay": target_s, "jitterBufferDelay": target_s / 2.0,
            "insertedSamplesForDeceleration": 480.0, "removedSamplesForAcceleration": 0.0,
            "concealedSamples": 960.0, "silentConcealedSamples": 480.0,
        }})
    }

    #[test]
    fn chromium_figures_come_from_the_last_sample_and_the_intervals() {
        // 0.5 s intervals of 24000 samples at a 100 ms, then a 300 ms target.
        let series = [
            json!({"t_ms": 0.0, "inbound": null}),
            sample(500.0, 24_000.0, 2_400.0),
            sample(1000.0, 48_000.0, 9_600.0),
        ];
        let f = BufferFigures::from_get_stats(&series).unwrap();
        assert_eq!(f.samples, 48_000);
        assert!((f.target_ms - 200.0).abs() < 1e-9, "{f:?}");
        assert!((f.delay_ms - 100.0).abs() < 1e-9);
        assert!((f.stretched_share - 0.01).abs() < 1e-12);
        assert!((f.concealed_share - 0.01).abs() < 1e-12, "silent concealment is left out");
        assert!((f.target_p95_ms - 300.0).abs() < 1e-9, "the second interval's target: {f:?}");
        assert_eq!(BufferFigures::from_get_stats(&series[..1]), None);
    }

    fn receiver(stretch: f64, conc: f64, target: f64, stoi: f64) -> Receiver {
        Receiver {
            figures: BufferFigures {
                stretched_share: stretch,
                concealed_share: conc,
                concealed_all_share: conc,
                target_ms: target,
                target_p95_ms: target,
                delay_ms: target,
                samples: 1,
            },
            stoi,
        }
    }

    #[test]
    fn bands_are_the_issues() {
        let mut c = Comparison {
            profile: "p".into(),
            role: Role::Validation,
            chromium_version: "156".into(),
            call_seconds: 60.0,
            loss_free: true,
            lost_share: 0.0,
            chromium: receiver(0.002, 0.005, 200.0, 0.99),
            ours: receiver(0.007, 0.0099, 224.0, 0.971),
            uplink: Uplink { stretched_share: 0.0, concealed_share: 0.0, stoi: 0.0 },
        };
        assert!(c.failures(&Bands::default()).is_empty(), "{:?}", c.failures(&Bands::default()));
        c.ours = receiver(0.0071, 0.0101, 226.0, 0.969);
        let f = c.failures(&Bands::default());
        assert_eq!(f.len(), 5, "stretch, concealment, two targets, STOI: {f:?}");
        c.loss_free = false;
        c.lost_share = 0.0051;
        let f = c.failures(&Bands::default());
        assert_eq!(f.len(), 3, "with loss: no STOI band, concealment against the loss: {f:?}");
        c.lost_share = 0.0050;
        assert_eq!(c.failures(&Bands::default()).len(), 4, "the buffer adds 0.51 pp of concealment beyond the loss");
        c.role = Role::Calibration;
        c.lost_share = 0.0051;
        let f = c.failures(&Bands::default());
        assert_eq!(f.len(), 4, "a lossy calibration call keeps the concealment band: {f:?}");
    }
}
