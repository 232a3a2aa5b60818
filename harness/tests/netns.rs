//! The `netns` backend: each call in its own client, router and server namespaces, real Linux
//! NAT (nft) in the router and the profile's impairment applied by the NFQUEUE verdict loop.
//! Needs root (CI runs as root); without it the first call fails with "need root", never skips.

mod common;

use std::num::NonZeroUsize;

use jitterbug::backend::{Backend, NetnsBackend};
use jitterbug::cancel::Cancel;
use jitterbug::live::agent::AgentTarget;
use jitterbug::live::call::{CallOutput, CallSpec, NetworkPath, call};
use jitterbug::live::caller::Caller;
use jitterbug::netns::call::netns_call;
use jitterbug::scenario::Scenario;
use jitterbug_core::identity::{BackendKind, Browser, Client};
use jitterbug_core::results::Status;

const CALL_SECONDS: f64 = 6.0;
const CLIP: &str = "arctic-a0009-slt";

/// Calls run one at a time: concurrent calls on a small machine make the verdicts late.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn netns(profile: &str, seed: u64) -> CallOutput {
    let (profile, preset, clip) = common::catalog(profile, "balanced-fec", CLIP);
    let scratch = tempfile::tempdir().unwrap();
    let s = Scenario {
        profile: &profile,
        preset: &preset,
        clip: &clip,
        seed,
        client: Client::Native,
        call_seconds: CALL_SECONDS,
    };
    let out = netns_call(&s, scratch.path(), &Cancel::default()).expect("the netns call runs");
    eprint!("{}", common::describe(&out.result));
    assert_eq!(out.result.status, Status::Ok, "{}", common::describe(&out.result));
    assert_eq!(out.result.backend, BackendKind::Netns);
    assert!(out.result.id.contains("/netns/"), "{}", out.result.id);
    out
}

/// Namespaces of this process still present.
fn our_namespaces() -> Vec<String> {
    let prefix = format!("jb{}x", std::process::id());
    let list = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&list.stdout).lines().filter(|l| l.starts_with(&prefix)).map(str::to_owned).collect()
}

#[test]
fn nat_types_are_real_kernel_nat() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let clean = netns("clean", 1);
    let (up, down) = (clean.result.uplink.as_ref().unwrap(), clean.result.downlink.as_ref().unwrap());
    assert!(up.stoi > 0.9 && down.stoi > 0.9, "STOI up {} down {}", up.stoi, down.stoi);
    assert_eq!(up.network.loss_rate, 0.0);
    assert!(clean.relay.nat_mappings.is_empty(), "no NAT on clean: {:?}", clean.relay.nat_mappings);
    assert!(clean.relay.received_uplink.rtp > 200, "the verdict loop saw the media");

    for (profile, preserved) in [
        ("nat-port-restricted", true),
        ("nat-full-cone", true),
        ("nat-address-restricted", true),
        ("nat-symmetric", false),
    ] {
        let o = netns(profile, 1);
        let m = &o.relay.nat_mappings;
        assert_eq!(m.len(), 1, "{profile}: one media flow through the NAT: {m:?}");
        let m = &m[0];
        // The agent (198.18.I.2) sees the router's public address (198.18.I.1), not 100.64/10.
        let octets = |a: std::net::SocketAddr| match a.ip() {
            std::net::IpAddr::V4(ip) => ip.octets(),
            std::net::IpAddr::V6(_) => panic!("{profile}: IPv6 in an IPv4 topology: {a}"),
        };
        let (public, remote) = (octets(m.public), octets(m.remote));
        assert_eq!([public[0], public[1], public[3]], [198, 18, 1], "{profile}: {m:?}");
        assert_eq!([remote[0], remote[1], remote[3]], [198, 18, 2], "{profile}: {m:?}");
        assert_eq!(m.internal.port() == m.public.port(), preserved, "{profile}: port preservation: {m:?}");
        assert!(o.result.uplink.as_ref().unwrap().stoi > 0.9, "{profile}");
    }
    assert!(our_namespaces().is_empty(), "left behind: {:?}", our_namespaces());
}

/// The verdict loop runs the impairment core with the same seed and the same RTP in the same
/// order as the loopback relay: the same packets are lost on both backends.
#[test]
fn same_seed_same_losses_as_the_relay() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let in_ns = netns("loss-random-5", 7);
    let (profile, preset, clip) = common::catalog("loss-random-5", "balanced-fec", CLIP);
    let scratch = tempfile::tempdir().unwrap();
    let spec = CallSpec {
        scenario: Scenario {
            profile: &profile,
            preset: &preset,
            clip: &clip,
            seed: 7,
            client: Client::Native,
            call_seconds: CALL_SECONDS,
        },
        caller: Caller::Native,
        agent: AgentTarget::InProcess,
        path: NetworkPath::Relay,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let relayed = rt.block_on(call(spec, scratch.path())).unwrap();
    eprint!("{}", common::describe(&relayed.result));
    let (a, b) = (&in_ns.relay.rtp_uplink, &relayed.relay.rtp_uplink);
    assert_eq!(a.packets_sent, b.packets_sent, "the client sends the seed's packets on both");
    assert!(a.lost_loss_model > 0, "5 % loss lost nothing");
    assert_eq!(a.lost_loss_model, b.lost_loss_model, "uplink losses differ: netns {a:?} relay {b:?}");
    let up = in_ns.result.uplink.as_ref().unwrap();
    assert_eq!(up.network.packets_sent - up.network.packets_delivered, a.lost_loss_model, "scored as dropped");
}

#[test]
fn delay_is_applied_to_forwarded_packets() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let delayed = netns("delay-50", 3);
    let live = delayed.result.live.as_ref().unwrap();
    let up = live.transit_uplink_ms.as_ref().expect("uplink transit");
    let down = live.transit_downlink_ms.as_ref().expect("downlink transit");
    // 50 ms one way per the profile, plus the kernel path and the verdict loop's wake-up.
    assert!((50.0..56.0).contains(&up.p50), "uplink transit p50 {} ms", up.p50);
    assert!((50.0..56.0).contains(&down.p50), "downlink transit p50 {} ms", down.p50);
    assert!(delayed.relay.timer.invalid.is_none(), "{:?}", delayed.relay.timer);
}

/// What this backend cannot run yet is decided in one place, before any namespace exists.
#[test]
fn unsupported_scenarios_say_why() {
    let backend = NetnsBackend::new(NonZeroUsize::MIN, Cancel::default());
    let (turn, preset, clip) = common::catalog("nat-symmetric-turn", "balanced-fec", CLIP);
    let s =
        Scenario { profile: &turn, preset: &preset, clip: &clip, seed: 1, client: Client::Native, call_seconds: 1.0 };
    let reason = backend.supports(&s).expect_err("TURN is not built on netns").0;
    assert!(reason.contains("TURN"), "{reason}");
    let (clean, _, _) = common::catalog("clean", "balanced-fec", CLIP);
    let browser = Scenario { profile: &clean, client: Client::Browser(Browser::Chromium), ..s };
    assert!(backend.supports(&browser).expect_err("no browsers in namespaces").0.contains("browser"));
    assert_eq!(backend.supports(&Scenario { profile: &clean, ..s }), Ok(()));
}
