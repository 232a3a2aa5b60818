//! STOI/ESTOI on 10 s at 48 kHz: the golden fixture pair ref_b_48k / b48_noise_5db, looped
//! to 480 000 samples. pystoi on the same input: see golden/fixtures/stoi/README.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use jitterbug_core::metrics::stoi::{self, Stoi};

const SAMPLE_RATE: u32 = 48_000;
const SECONDS: usize = 10;

fn looped(name: &str) -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden/fixtures/stoi").join(name);
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    assert_eq!(r.spec().sample_rate, SAMPLE_RATE);
    let clip: Vec<f32> = r.samples::<i16>().map(|s| f32::from(s.expect("sample")) / 32768.0).collect();
    clip.iter().copied().cycle().take(SAMPLE_RATE as usize * SECONDS).collect()
}

fn bench(c: &mut Criterion) {
    let x = looped("ref_b_48k.wav");
    let y = looped("b48_noise_5db.wav");
    let s = Stoi::new(SAMPLE_RATE).expect("evaluator");
    let mut g = c.benchmark_group("stoi_10s_48k");
    g.sample_size(30);
    g.bench_function("stoi", |b| b.iter(|| black_box(s.stoi(black_box(&x), black_box(&y)).expect("stoi"))));
    g.bench_function("estoi", |b| b.iter(|| black_box(s.estoi(black_box(&x), black_box(&y)).expect("estoi"))));
    g.bench_function("stoi+estoi", |b| b.iter(|| black_box(s.scores(black_box(&x), black_box(&y)).expect("scores"))));
    g.bench_function("stoi_free_fn_incl_setup", |b| {
        b.iter(|| black_box(stoi::stoi(black_box(&x), black_box(&y), SAMPLE_RATE).expect("stoi")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
