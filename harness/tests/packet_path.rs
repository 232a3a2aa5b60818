//! One packet path, four drivers: the same seeded profile through the media-path simulator's
//! driver and through the real-time UDP relay gives the same verdict for every RTP packet —
//! dropped, delivered, duplicated, corrupted — because both are thin drivers of
//! `jitterbug_core::path`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use jitterbug::catalog::{Presets, Profiles};
use jitterbug::clips;
use jitterbug::live::relay::{Relay, RelayConfig};
use jitterbug::sim::encode_cache::EncodeCache;
use jitterbug::sim::{path, sender};
use jitterbug_core::impairment::Direction;
use jitterbug_core::profile::Profile;
use tokio::net::UdpSocket;

/// Per sent packet: (copies delivered, copies delivered with a flipped bit).
type Verdicts = Vec<(u32, u32)>;

/// Which sent packet `got` is a copy of: an exact match, or the one packet of the same length
/// it differs from by a single bit (a corrupted copy).
fn original(sent: &[Vec<u8>], exact: &HashMap<&[u8], usize>, got: &[u8]) -> (usize, bool) {
    if let Some(&i) = exact.get(got) {
        return (i, false);
    }
    let flipped =
        |p: &Vec<u8>| p.len() == got.len() && p.iter().zip(got).map(|(a, b)| (a ^ b).count_ones()).sum::<u32>() == 1;
    let i = sent.iter().position(flipped).expect("every datagram is a sent packet, intact or with one bit flipped");
    (i, true)
}

fn packets(seed: u64) -> Vec<sender::SentPacket> {
    let preset = Presets::embedded().get("balanced-fec").unwrap();
    let clip = clips::load("arctic-a0009-slt").unwrap().as_call(40.0);
    let frames = EncodeCache::default().get(&clip, &preset.codec, 0).unwrap();
    sender::packetize(&frames, &preset.codec, seed, 1)
}

fn simulated(profile: &Profile, seed: u64, sent: &[sender::SentPacket]) -> (Verdicts, u64) {
    let (arrivals, counters) = path::transmit(profile, seed, Direction::Uplink, sent);
    let mut v = vec![(0, 0); sent.len()];
    for a in arrivals {
        v[a.index].0 += 1;
        v[a.index].1 += u32::from(a.corrupted);
    }
    (v, counters.packets_delivered)
}

/// The same packets through the relay on loopback (ten per millisecond: none of these profiles'
/// verdicts depend on time, only on the order of RTP packets).
async fn relayed(profile: &Profile, seed: u64, sent: &[sender::SentPacket]) -> (Verdicts, u64) {
    let agent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay = Relay::start(RelayConfig {
        listen: SocketAddr::from(([127, 0, 0, 2], 0)),
        upstream: agent.local_addr().unwrap(),
        upstream_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
        profile: profile.clone(),
        seed,
    })
    .await
    .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bytes: Vec<Vec<u8>> = sent.iter().map(|p| p.bytes.clone()).collect();
    let exact: HashMap<&[u8], usize> = bytes.iter().enumerate().map(|(i, b)| (b.as_slice(), i)).collect();
    let receiver = async {
        let mut v = vec![(0, 0); sent.len()];
        let mut buf = [0u8; 2048];
        while let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(500), agent.recv_from(&mut buf)).await {
            let (i, corrupted) = original(&bytes, &exact, &buf[..n]);
            v[i].0 += 1;
            v[i].1 += u32::from(corrupted);
        }
        v
    };
    let sender = async {
        for batch in bytes.chunks(10) {
            for b in batch {
                client.send_to(b, relay.listen).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let (v, ()) = tokio::join!(receiver, sender);
    let report = relay.finish().await;
    assert_eq!(report.rtp_distinct_uplink, sent.len() as u64, "the relay saw every packet");
    (v, report.rtp_uplink.packets_delivered)
}

async fn same_verdicts(profile: Profile, seed: u64) {
    let sent = packets(seed);
    let (sim, sim_delivered) = simulated(&profile, seed, &sent);
    let (live, live_delivered) = relayed(&profile, seed, &sent).await;
    let differ: Vec<String> = (0..sent.len())
        .filter(|&i| sim[i] != live[i])
        .map(|i| format!("packet {i}: sim {:?}, relay {:?}", sim[i], live[i]))
        .collect();
    assert!(differ.is_empty(), "{}: {} packets differ:\n{}", profile.name, differ.len(), differ.join("\n"));
    assert_eq!(sim_delivered, live_delivered);
    let count = |f: fn(&(u32, u32)) -> bool| sim.iter().filter(|v| f(v)).count();
    eprintln!(
        "{} seed {seed}: {} packets, {} dropped, {} duplicated, {} corrupted copies: the same in both drivers",
        profile.name,
        sent.len(),
        count(|v| v.0 == 0),
        count(|v| v.0 == 2),
        sim.iter().map(|v| v.1).sum::<u32>(),
    );
}

#[tokio::test]
async fn sim_and_relay_give_every_rtp_packet_the_same_fate() {
    // Loss, duplication and corruption together, so every kind of verdict occurs.
    let mixed = Profile::parse(
        "mixed",
        "description = \"d\"\nsource = \"s\"\n[both]\nduplicate_percent = 3\ncorrupt_percent = 3\n\
         [both.delay]\nms = 5\n[both.loss]\nmodel = \"random\"\npercent = 5\n",
        std::path::Path::new("mixed.toml"),
        None,
    )
    .unwrap();
    same_verdicts(mixed, 11).await;
    same_verdicts(Profiles::embedded().get("loss-burst-ge").unwrap(), 3).await;
}
