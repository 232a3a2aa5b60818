//! Packets per second through the impairment core, per profile shape.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jitterbug_core::impairment::{Direction, Impairment, PacketMeta};
use jitterbug_core::profile::Profile;
use jitterbug_core::time::Timestamp;

const PACKETS: u64 = 100_000;

fn profile(name: &str) -> Profile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../netem-profiles/{name}.toml"));
    Profile::load(&path).expect("shipped profile loads")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("impairment");
    g.throughput(Throughput::Elements(PACKETS));
    for name in ["clean", "loss-random-5", "loss-burst-ge", "jitter-high", "handover-spikes", "bufferbloat"] {
        let p = profile(name);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut imp = Impairment::new(&p.uplink, 1, Direction::Uplink);
                let mut delivered = 0u64;
                for i in 0..PACKETS {
                    let out = imp.on_packet(Timestamp::from_nanos(i * 20_000_000), PacketMeta { size: 100 });
                    delivered += out.deliveries().count() as u64;
                }
                black_box(delivered)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
