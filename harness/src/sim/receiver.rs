//! The receiving side on a virtual clock: arrivals into the jitter buffer, 10 ms of audio out
//! per tick, exactly as a real receiver's audio device would pull.

use jitterbug_core::codec::Decoder;
use jitterbug_core::jitter_buffer::{
    BLOCK, JbPoint, JitterBuffer, JitterBufferConfig, JitterBufferStats, OUTPUT_RATE, RtpInfo, TIMELINE_STEP_MS,
};
use jitterbug_core::rtp::RtpHeader;
use jitterbug_core::time::Timestamp;

/// A copy that reached the receiver.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Timestamp,
    pub bytes: Vec<u8>,
    /// Index of the sent packet this is a copy of.
    pub index: usize,
    /// A bit was flipped on the way.
    pub corrupted: bool,
}

/// Audio as played from t = 0, plus the buffer's counters and the decoder's delay.
pub struct Received {
    pub pcm: Vec<i16>,
    pub stats: JitterBufferStats,
    /// Algorithmic delay of the decoder chain (codec lookahead, resampling), ms.
    pub codec_delay_ms: f64,
    /// The buffer over time, one point per `TIMELINE_STEP_MS`.
    pub timeline: Vec<JbPoint>,
}

/// Plays `arrivals` through a jitter buffer until `until`.
pub fn receive(
    arrivals: &[Arrival],
    config: JitterBufferConfig,
    clock_rate: u32,
    decoder: Decoder,
    until: Timestamp,
) -> Received {
    let codec_delay_ms = decoder.algorithmic_delay_samples() as f64 * 1e3 / f64::from(OUTPUT_RATE);
    let mut jb = JitterBuffer::new(config, clock_rate, decoder);
    let ticks = until.as_nanos().div_ceil(10_000_000);
    let mut pcm = Vec::with_capacity(ticks as usize * BLOCK);
    let mut next = 0;
    let mut timeline = Vec::with_capacity((ticks / 10) as usize + 1);
    let mut concealed_at_step = 0;
    for tick in 0..ticks {
        let now = Timestamp::from_millis(tick * 10);
        if (tick * 10).is_multiple_of(TIMELINE_STEP_MS) {
            let c = jb.stats().concealed_samples;
            let step_samples = TIMELINE_STEP_MS as f64 * 48.0;
            timeline.push(JbPoint {
                t_ms: tick * 10,
                target_ms: jb.target_delay_ms(),
                level_ms: jb.buffer_level_ms(),
                concealed: (c - concealed_at_step) as f64 / step_samples,
                stretched: jb.take_stretched() as f64 / step_samples,
            });
            concealed_at_step = c;
        }
        while next < arrivals.len() && arrivals[next].at <= now {
            let a = &arrivals[next];
            if a.corrupted {
                // WebRTC media is SRTP: a flipped bit fails authentication and the packet is
                // dropped (as the UDP checksum would drop it on a plain socket).
                next += 1;
                continue;
            }
            // The sender wrote these packets and nothing altered them: they parse.
            if let Ok((h, payload)) = RtpHeader::parse(&a.bytes) {
                let rtp = RtpInfo { ssrc: h.ssrc, sequence: h.sequence, timestamp: h.timestamp };
                jb.insert(a.at, rtp, payload.to_vec());
            }
            next += 1;
        }
        // The sender has stopped and everything was played: end without concealing the silence after.
        if next == arrivals.len() && jb.packets_buffered() == 0 && tick > 0 {
            pcm.extend(jb.flush(now));
            break;
        }
        pcm.extend(jb.pull(now));
    }
    Received { pcm, stats: *jb.stats(), codec_delay_ms, timeline }
}
