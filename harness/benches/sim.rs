//! Simulator speed in multiples of real time, encodes cached (as in a sweep).
//!
//! `media-path`: packetise → impairment → jitter buffer → decode, one direction.
//! `scenario`: a whole scenario (both directions, plus alignment, STOI/ESTOI, E-model).
//! `scenario-full-stack`: the same over webrtc-rs ICE + DTLS + SRTP in virtual time.
//! Throughput is in audio milliseconds per second: divide criterion's elem/s by 1000 for
//! "× real time".

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;
use jitterbug::scenario::Scenario;
use jitterbug::sim::encode_cache::EncodeCache;
use jitterbug::sim::{self, path, receiver, sender};
use jitterbug_core::codec::Decoder;
use jitterbug_core::identity::Client;
use jitterbug_core::impairment::Direction;
use jitterbug_core::time::Timestamp;

const CALL_S: f64 = 20.0;

fn bench(c: &mut Criterion) {
    let profile = Profiles::embedded().get("loss-random-5").unwrap();
    let clip = clips::load("arctic-a0009-slt").unwrap();
    let call = clip.as_call(CALL_S);
    let audio_ms = (call.pcm.len() / 48) as u64;
    let mut g = c.benchmark_group("sim");
    for preset_name in ["balanced-fec", "pcmu"] {
        let preset = Presets::embedded().get(preset_name).unwrap();
        let cache = EncodeCache::default();
        let frames = cache.get(&call, &preset.codec, 50).unwrap();
        let s = Scenario {
            profile: &profile,
            preset: &preset,
            clip: &clip,
            seed: 1,
            client: Client::Native,
            call_seconds: CALL_S,
        };
        let sent = sender::packetize(&frames, &preset.codec, 1, 1);

        g.throughput(Throughput::Elements(audio_ms));
        g.bench_function(format!("media-path/{preset_name}"), |b| {
            b.iter(|| {
                let (arrivals, _) = path::transmit(&profile, 1, Direction::Uplink, &sent);
                let until = arrivals.last().map_or(Timestamp::ZERO, |a| a.at) + std::time::Duration::from_secs(1);
                let decoder = Decoder::new(&preset.codec).unwrap();
                let r =
                    receiver::receive(&arrivals, preset.jitter_buffer, preset.codec.rtp_clock_rate(), decoder, until);
                black_box(r.pcm.len())
            })
        });

        g.throughput(Throughput::Elements(2 * audio_ms));
        g.bench_function(format!("scenario/{preset_name}"), |b| {
            b.iter(|| black_box(sim::run(&s, &cache).result.uplink.map(|u| u.stoi)))
        });
        g.bench_function(format!("scenario-full-stack/{preset_name}"), |b| {
            b.iter(|| black_box(sim::full_stack::run_full_stack(&s, &cache).result.uplink.map(|u| u.stoi)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
