//! Jitter-buffer behaviour, driven in virtual time with a decoder whose output tells which
//! frame was played (value = frame index + 1, concealment = 0).

use jitterbug_core::codec::CodecError;
use jitterbug_core::jitter_buffer::{FrameDecoder, Inserted, JitterBuffer, JitterBufferConfig, RtpInfo, Strategy};
use jitterbug_core::time::Timestamp;

const FRAME: usize = 960; // 20 ms at 48 kHz

struct Fake {
    fec: bool,
}

fn payload(idx: u32) -> Vec<u8> {
    let mut p = idx.to_be_bytes().to_vec();
    p.push(0xAA);
    p
}

fn idx_of(p: &[u8]) -> u32 {
    u32::from_be_bytes(p[..4].try_into().unwrap())
}

impl FrameDecoder for Fake {
    fn decode(&mut self, p: &[u8]) -> Result<Vec<i16>, CodecError> {
        if p.len() <= 2 {
            return Ok(vec![0; FRAME]);
        }
        Ok(vec![(idx_of(p) + 1) as i16; FRAME])
    }
    fn conceal(&mut self) -> Vec<i16> {
        vec![0; FRAME]
    }
    fn decode_fec(&mut self, next: &[u8]) -> Result<Option<Vec<i16>>, CodecError> {
        Ok(self.has_fec(next).then(|| vec![idx_of(next) as i16; FRAME]))
    }
    fn has_fec(&self, next: &[u8]) -> bool {
        self.fec && next.len() > 2
    }
    fn is_comfort_noise(&self, p: &[u8]) -> bool {
        p.len() <= 2
    }
}

struct Arrival {
    seq: u16,
    ts: u32,
    at_ms: u64,
    payload: Vec<u8>,
    ssrc: u32,
}

/// Frame i sent at 20·i ms and arriving after `delay(i)` ms (None = lost).
fn stream(frames: u32, seq0: u16, ts0: u32, delay: impl Fn(u32) -> Option<u64>) -> Vec<Arrival> {
    (0..frames)
        .filter_map(|i| {
            delay(i).map(|d| Arrival {
                seq: seq0.wrapping_add(i as u16),
                ts: ts0.wrapping_add(i * FRAME as u32),
                at_ms: 20 * u64::from(i) + d,
                payload: payload(i),
                ssrc: 7,
            })
        })
        .collect()
}

/// Plays the arrivals through a buffer for `ms` of virtual time; returns the output and the buffer.
fn play(config: JitterBufferConfig, fec: bool, mut arrivals: Vec<Arrival>, ms: u64) -> (Vec<i16>, JitterBuffer<Fake>) {
    arrivals.sort_by_key(|a| a.at_ms);
    let mut jb = JitterBuffer::new(config, 48_000, Fake { fec });
    let mut out = Vec::new();
    let mut next = 0;
    for tick in (0..ms).step_by(10) {
        while next < arrivals.len() && arrivals[next].at_ms <= tick {
            let a = &arrivals[next];
            jb.insert(
                Timestamp::from_millis(a.at_ms),
                RtpInfo { ssrc: a.ssrc, sequence: a.seq, timestamp: a.ts },
                a.payload.clone(),
            );
            next += 1;
        }
        // The sender has stopped and everything was played: end without concealing.
        if next == arrivals.len() && jb.packets_buffered() == 0 && tick > 0 {
            out.extend(jb.flush(Timestamp::from_millis(tick)));
            break;
        }
        out.extend(jb.pull(Timestamp::from_millis(tick)));
    }
    (out, jb)
}

/// Frame values in play order, one per 20 ms, starting at the first non-silent sample.
fn played(out: &[i16]) -> Vec<i16> {
    let start = out.iter().position(|&v| v != 0).unwrap_or(out.len());
    out[start..].chunks(FRAME).map(|c| c[0]).collect()
}

const FIXED_60: JitterBufferConfig = JitterBufferConfig::Fixed { delay_ms: 60.0 };

#[test]
fn in_order_stream_plays_every_frame_once() {
    let (out, jb) = play(FIXED_60, false, stream(100, 100, 1000, |_| Some(30)), 2500);
    let v = played(&out);
    assert_eq!(&v[..100], &(1..=100).collect::<Vec<i16>>()[..]);
    let s = jb.stats();
    assert_eq!((s.concealment_events, s.packets_late, s.packets_duplicated), (0, 0, 0));
    // Fixed 60 ms after the first arrival: every sample waited 60 ms (the first tick after).
    let mean = s.mean_delay_ms().unwrap();
    assert!((mean - 60.0).abs() < 10.0, "mean delay {mean}");
}

#[test]
fn reordering_within_the_buffer_is_invisible() {
    // Odd frames overtake the even ones before them by 15 ms.
    let (out, jb) = play(FIXED_60, false, stream(60, 0, 0, |i| Some(if i % 2 == 0 { 35 } else { 5 })), 1500);
    assert_eq!(&played(&out)[..60], &(1..=60).collect::<Vec<i16>>()[..]);
    assert_eq!(jb.stats().concealment_events, 0);
}

#[test]
fn duplicates_are_counted_and_dropped() {
    let mut a = stream(50, 0, 0, |_| Some(20));
    let dups: Vec<Arrival> = stream(50, 0, 0, |i| (i % 5 == 0).then_some(25));
    a.extend(dups);
    let (out, jb) = play(FIXED_60, false, a, 1300);
    assert_eq!(jb.stats().packets_duplicated, 10);
    assert_eq!(&played(&out)[..50], &(1..=50).collect::<Vec<i16>>()[..]);
}

#[test]
fn loss_is_concealed_and_fec_recovers_when_the_next_packet_is_here() {
    let lost = |i: u32| (i != 20 && i != 40 && i != 41).then_some(20);
    let (out, jb) = play(FIXED_60, false, stream(60, 0, 0, lost), 1500);
    let s = *jb.stats();
    assert_eq!(s.concealment_events, 2);
    assert_eq!(s.concealed_samples, 3 * FRAME as u64);
    assert_eq!(played(&out)[20], 0);

    let (out, jb) = play(FIXED_60, true, stream(60, 0, 0, lost), 1500);
    let s = *jb.stats();
    // Frame 20 and 41 come back from the FEC of 21 and 42; 40 is concealed (41 was lost too).
    assert_eq!(s.fec_recovered, 2);
    assert_eq!(s.concealment_events, 1);
    let v = played(&out);
    assert_eq!((v[20], v[40], v[41]), (21, 0, 42));
}

#[test]
fn late_packets_are_counted_as_late_loss() {
    // Frame 10 arrives 200 ms late: long after its 60 ms slot.
    let (_, jb) = play(FIXED_60, false, stream(40, 0, 0, |i| Some(if i == 10 { 200 } else { 10 })), 1200);
    let s = jb.stats();
    assert_eq!((s.packets_late, s.concealment_events), (1, 1));
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    let (out, jb) = play(FIXED_60, false, stream(80, 65_500, u32::MAX - 20 * FRAME as u32, |_| Some(15)), 2000);
    assert_eq!(&played(&out)[..80], &(1..=80).collect::<Vec<i16>>()[..]);
    assert_eq!(jb.stats().concealment_events, 0);
}

/// Comfort noise through DTX is neither loss nor concealment (NetEq counts codec comfort noise
/// as generated noise).
#[test]
fn dtx_gaps_are_comfort_noise_not_loss() {
    // Frames 0..20 speech, then 20 frames of DTX with one comfort-noise packet, then speech.
    let mut a = Vec::new();
    let mut seq = 0u16;
    for i in 0..60u32 {
        let dtx = (20..40).contains(&i);
        if dtx && i != 20 {
            continue; // not sent: contiguous sequence numbers, jumping timestamps
        }
        a.push(Arrival {
            seq,
            ts: i * FRAME as u32,
            at_ms: 20 * u64::from(i) + 20,
            payload: if dtx { vec![0xF8] } else { payload(i) },
            ssrc: 1,
        });
        seq += 1;
    }
    let (out, jb) = play(FIXED_60, false, a, 1500);
    let s = jb.stats();
    assert_eq!((s.concealment_events, s.concealed_samples, s.silent_concealed_samples), (0, 0, 0), "{s:?}");
    assert_eq!(played(&out)[..20], (1..=20).collect::<Vec<i16>>()[..]);
    assert!(out.contains(&41));
}

#[test]
fn ssrc_change_resets_and_continues() {
    let mut a = stream(30, 0, 0, |_| Some(10));
    a.extend(stream(30, 9000, 777_000, |_| Some(10)).into_iter().map(|mut x| {
        x.ssrc = 8;
        x.at_ms += 600;
        x.payload = payload(idx_of(&x.payload) + 100);
        x
    }));
    let mut jb = JitterBuffer::new(FIXED_60, 48_000, Fake { fec: false });
    let mut outcomes = Vec::new();
    for x in &a {
        outcomes.push(jb.insert(
            Timestamp::from_millis(x.at_ms),
            RtpInfo { ssrc: x.ssrc, sequence: x.seq, timestamp: x.ts },
            x.payload.clone(),
        ));
    }
    assert_eq!(outcomes.iter().filter(|o| **o == Inserted::StoredAfterSsrcChange).count(), 1);
    assert_eq!(jb.stats().ssrc_changes, 1);
    let (out, _) = play(FIXED_60, false, a, 1600);
    assert!(out.contains(&101) && out.contains(&130), "second stream played");
}

/// High jitter: a bigger fixed buffer loses fewer packets late; an adaptive buffer grows its
/// target and time-stretches to get there, the aggressive strategy further than the
/// conservative one.
#[test]
fn bigger_buffers_lose_fewer_packets_late() {
    // Deterministic pseudo-jitter: 0–150 ms, spiky.
    let jitter = |i: u32| Some(u64::from((i * 7919 % 101) + if i.is_multiple_of(13) { 80 } else { 0 }) % 160);
    let late = |cfg| play(cfg, false, stream(500, 0, 0, jitter), 11_000).1.stats().packets_late;
    let small = late(JitterBufferConfig::Fixed { delay_ms: 40.0 });
    let big = late(JitterBufferConfig::Fixed { delay_ms: 200.0 });
    assert!(big < small, "fixed 200 ms lost {big} late vs fixed 40 ms {small}");

    let adaptive = |s| JitterBufferConfig::Adaptive { strategy: s, min_delay_ms: 0.0, max_delay_ms: None };
    let (_, jb) = play(adaptive(Strategy::Aggressive), false, stream(500, 0, 0, jitter), 11_000);
    assert!(jb.target_delay_ms() > 100.0, "target {}", jb.target_delay_ms());
    let s = *jb.stats();
    assert!(s.inserted_samples_for_deceleration > 0, "{s:?}");
    let (_, c) = play(adaptive(Strategy::Conservative), false, stream(500, 0, 0, jitter), 11_000);
    // The aggressive strategy's higher quantile and longer memory hold more delay.
    assert!(
        c.target_delay_ms() < jb.target_delay_ms(),
        "conservative {} vs aggressive {}",
        c.target_delay_ms(),
        jb.target_delay_ms()
    );
    assert!(
        c.stats().mean_delay_ms() < s.mean_delay_ms(),
        "{:?} vs {:?}",
        c.stats().mean_delay_ms(),
        s.mean_delay_ms()
    );
}

#[test]
fn adaptive_buffer_accelerates_when_over_target() {
    // A 300 ms burst of delay, then steady arrivals: the buffer holds too much and must shrink.
    let (_, jb) = play(
        JitterBufferConfig::Adaptive { strategy: Strategy::Conservative, min_delay_ms: 0.0, max_delay_ms: None },
        false,
        stream(400, 0, 0, |i| Some(if i < 10 { 300 - 20 * u64::from(i) } else { 100 })),
        9000,
    );
    assert!(jb.stats().removed_samples_for_acceleration > 0, "{:?}", jb.stats());
}
