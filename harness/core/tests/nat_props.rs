//! Property tests of the NAT model: the acceptance criteria of RFC 4787 mapping, filtering,
//! determinism and binding lifetime.
//!
//! Internal hosts live in 100.64.0.0/10, the NAT and remote hosts in 198.18.0.0/15.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use jitterbug_core::nat::{DropReason, Filtering, Inbound, Mapping, Nat, NatConfig, NatType, Outbound};
use jitterbug_core::time::Timestamp;
use proptest::prelude::*;
use proptest::sample::{Index, select};

const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));

/// Small pools, so that generated destinations and sources often coincide.
fn internal() -> impl Strategy<Value = SocketAddr> {
    (2u8..=4, select(vec![5000u16, 5001, 40000]))
        .prop_map(|(host, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(100, 64, 0, host)), port))
}

fn remote() -> impl Strategy<Value = SocketAddr> {
    (1u8..=4, select(vec![3478u16, 3479, 5000, 5001]))
        .prop_map(|(host, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 19, 0, host)), port))
}

/// Every type with a NAT.
const NAT_TYPES: [NatType; 4] =
    [NatType::FullCone, NatType::AddressRestricted, NatType::PortRestricted, NatType::Symmetric];

const MAPPINGS: [Mapping; 3] =
    [Mapping::EndpointIndependent, Mapping::AddressDependent, Mapping::AddressAndPortDependent];

fn nat_type() -> impl Strategy<Value = NatType> {
    select(NAT_TYPES.to_vec())
}

fn filtering() -> impl Strategy<Value = Filtering> {
    use Filtering::*;
    select(vec![EndpointIndependent, AddressDependent, AddressAndPortDependent])
}

fn config(t: NatType, port_preservation: bool) -> NatConfig {
    NatConfig { port_preservation, ..NatConfig::for_type(t).expect("NatType with a NAT") }
}

fn forwarded_from(out: Outbound) -> Result<SocketAddr, TestCaseError> {
    match out {
        Outbound::Forward { src, .. } => Ok(src),
        other => Err(TestCaseError::fail(format!("expected Forward, got {other:?}"))),
    }
}

/// What the mapping behaviour says two destinations of one internal endpoint share a port by.
fn mapping_key(m: Mapping, dst: SocketAddr) -> (Option<IpAddr>, Option<u16>) {
    match m {
        Mapping::EndpointIndependent => (None, None),
        Mapping::AddressDependent => (Some(dst.ip()), None),
        Mapping::AddressAndPortDependent => (Some(dst.ip()), Some(dst.port())),
    }
}

proptest! {
    /// Criterion 1: endpoint-independent mapping gives one public port per internal endpoint,
    /// address-dependent one per destination IP, address-and-port-dependent (symmetric) one
    /// per destination endpoint; distinct internal endpoints never share a public port.
    #[test]
    fn mapping_gives_one_public_port_per_mapping_key(
        filtering in filtering(),
        port_preservation in any::<bool>(),
        seed in any::<u64>(),
        sends in prop::collection::vec((internal(), remote()), 1..32),
    ) {
        for mapping in MAPPINGS {
            let cfg = NatConfig {
                mapping,
                filtering,
                port_preservation,
                hairpinning: true,
                binding_lifetime: Duration::from_secs(120),
            };
            let mut nat = Nat::new(cfg, PUBLIC, seed);
            let mut seen = Vec::new();
            for (i, &(src, dst)) in sends.iter().enumerate() {
                let mapped = forwarded_from(nat.outbound(Timestamp::from_millis(i as u64), src, dst))?;
                prop_assert_eq!(mapped.ip(), PUBLIC);
                seen.push(((src, mapping_key(mapping, dst)), mapped.port()));
            }
            for &(key_a, port_a) in &seen {
                for &(key_b, port_b) in &seen {
                    prop_assert_eq!(
                        key_a == key_b,
                        port_a == port_b,
                        "{:?}: {:?} -> {}, {:?} -> {}", mapping, key_a, port_a, key_b, port_b
                    );
                }
            }
            let distinct_keys: BTreeSet<_> = seen.iter().map(|&(k, _)| k).collect();
            let end = Timestamp::from_millis(sends.len() as u64);
            prop_assert_eq!(nat.mapping_count(end), distinct_keys.len());
        }
    }

    /// Criterion 2: unsolicited inbound traffic is forwarded exactly when the type's filtering
    /// allows it, per binding, and otherwise dropped as `Filtered`.
    #[test]
    fn filtering_drops_unsolicited_inbound_as_the_type_says(
        port_preservation in any::<bool>(),
        seed in any::<u64>(),
        src in internal(),
        contacted in prop::collection::vec(remote(), 1..8),
        probes in prop::collection::vec((remote(), any::<Index>()), 1..32),
    ) {
        prop_assert_eq!(NatConfig::for_type(NatType::None), None);
        for t in NAT_TYPES {
            let (_, filtering) = t.behaviour().expect("NatType with a NAT");
            let mut nat = Nat::new(config(t, port_preservation), PUBLIC, seed);
            let now = Timestamp::from_millis(1);
            // Destinations contacted through each public port.
            let mut by_port: BTreeMap<u16, Vec<SocketAddr>> = BTreeMap::new();
            for &dst in &contacted {
                let mapped = forwarded_from(nat.outbound(now, src, dst))?;
                by_port.entry(mapped.port()).or_default().push(dst);
            }
            let ports: Vec<u16> = by_port.keys().copied().collect();
            for &(from, pick) in &probes {
                let port = ports[pick.index(ports.len())];
                let sent_to = &by_port[&port];
                let allowed = match filtering {
                    Filtering::EndpointIndependent => true,
                    Filtering::AddressDependent => sent_to.iter().any(|d| d.ip() == from.ip()),
                    Filtering::AddressAndPortDependent => sent_to.contains(&from),
                };
                let expected = if allowed {
                    Inbound::Forward { dst: src }
                } else {
                    Inbound::Drop(DropReason::Filtered)
                };
                prop_assert_eq!(
                    nat.inbound(now, from, SocketAddr::new(PUBLIC, port)),
                    expected,
                    "{:?}: {} -> port {}, sent to {:?}", t, from, port, sent_to
                );
            }
        }
    }

    /// Criterion 3a: the same seed and inputs give the same outputs, whatever the operations.
    #[test]
    fn same_seed_replays_identical_outputs(
        t in nat_type(),
        port_preservation in any::<bool>(),
        hairpinning in any::<bool>(),
        lifetime_ms in 1u64..5_000,
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..64),
    ) {
        let cfg = NatConfig {
            port_preservation,
            hairpinning,
            binding_lifetime: Duration::from_millis(lifetime_ms),
            ..config(t, true)
        };
        prop_assert_eq!(replay(cfg, seed, &ops), replay(cfg, seed, &ops));
    }

    /// Criterion 3b: a binding lives exactly its lifetime after the last outbound packet;
    /// inbound packets do not extend it.
    #[test]
    fn bindings_expire_exactly_after_lifetime(
        t in nat_type(),
        port_preservation in any::<bool>(),
        seed in any::<u64>(),
        lifetime_ns in 1u64..=300_000_000_000,
        start_ns in 0u64..1_000_000_000_000,
        refresh_fraction in prop::option::of(0.0f64..1.0),
        src in internal(),
        dst in remote(),
    ) {
        let lifetime = Duration::from_nanos(lifetime_ns);
        let cfg = NatConfig { binding_lifetime: lifetime, ..config(t, port_preservation) };
        let mut nat = Nat::new(cfg, PUBLIC, seed);
        let start = Timestamp::from_nanos(start_ns);
        let mapped = forwarded_from(nat.outbound(start, src, dst))?;
        let mut last = start;
        if let Some(f) = refresh_fraction {
            // Strictly inside the lifetime, so the same binding is refreshed.
            last = start + Duration::from_nanos((lifetime_ns as f64 * f) as u64 % lifetime_ns);
            prop_assert_eq!(forwarded_from(nat.outbound(last, src, dst))?, mapped);
        }
        let final_ns = last + (lifetime - Duration::from_nanos(1));
        let expiry = last + lifetime;
        prop_assert_eq!(nat.mapping_count(final_ns), 1);
        prop_assert_eq!(nat.inbound(final_ns, dst, mapped), Inbound::Forward { dst: src });
        prop_assert_eq!(nat.mapping_count(expiry), 0);
        prop_assert_eq!(nat.inbound(expiry, dst, mapped), Inbound::Drop(DropReason::Expired));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Out {
        from: SocketAddr,
        to: SocketAddr,
    },
    In {
        from: SocketAddr,
        port: Index,
    },
    /// Outbound to the NAT's own public address.
    Hairpin {
        from: SocketAddr,
        port: Index,
    },
}

fn op() -> impl Strategy<Value = (Op, u64)> {
    let op = prop_oneof![
        3 => (internal(), remote()).prop_map(|(from, to)| Op::Out { from, to }),
        3 => (remote(), any::<Index>()).prop_map(|(from, port)| Op::In { from, port }),
        1 => (internal(), any::<Index>()).prop_map(|(from, port)| Op::Hairpin { from, port }),
    ];
    (op, 0u64..2_000)
}

#[derive(Debug, PartialEq, Eq)]
enum Output {
    Out(Outbound),
    In(Inbound),
}

/// Runs `ops` (each after its delay in ms) on a fresh NAT; inbound and hairpin targets are
/// picked among the public ports seen so far, so that they mostly hit bindings.
fn replay(cfg: NatConfig, seed: u64, ops: &[(Op, u64)]) -> Vec<(Output, usize)> {
    let mut nat = Nat::new(cfg, PUBLIC, seed);
    let mut now = Timestamp::ZERO;
    let mut seen: Vec<u16> = Vec::new();
    let pick = |seen: &[u16], i: &Index| {
        if seen.is_empty() { 1024 + i.index(64512) as u16 } else { seen[i.index(seen.len())] }
    };
    let mut outputs = Vec::new();
    for (op, dt_ms) in ops {
        now = now + Duration::from_millis(*dt_ms);
        let output = match op {
            Op::Out { from, to } => Output::Out(nat.outbound(now, *from, *to)),
            Op::In { from, port } => Output::In(nat.inbound(now, *from, SocketAddr::new(PUBLIC, pick(&seen, port)))),
            Op::Hairpin { from, port } => {
                Output::Out(nat.outbound(now, *from, SocketAddr::new(PUBLIC, pick(&seen, port))))
            }
        };
        if let Output::Out(Outbound::Forward { src, .. } | Outbound::Hairpin { src, .. }) = output {
            seen.push(src.port());
        }
        outputs.push((output, nat.mapping_count(now)));
    }
    outputs
}
