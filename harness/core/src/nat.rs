//! Sans-I/O NAT model (RFC 4787): mapping, filtering, port preservation, binding lifetime and
//! hairpinning, as a state machine that is told the time.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rng::{Stream, StreamId};
use crate::time::Timestamp;

/// The classic NAT names, each a combination of RFC 4787 mapping and filtering behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatType {
    /// No NAT: the side has a public address.
    #[default]
    None,
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering.
    AddressRestricted,
    /// Endpoint-independent mapping, address-and-port-dependent filtering.
    PortRestricted,
    /// Address-and-port-dependent mapping and filtering.
    Symmetric,
}

/// RFC 4787 section 4.1 mapping behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mapping {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

/// RFC 4787 section 5 filtering behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filtering {
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

impl NatType {
    pub const ALL: [NatType; 5] =
        [NatType::None, NatType::FullCone, NatType::AddressRestricted, NatType::PortRestricted, NatType::Symmetric];

    /// Mapping and filtering of this NAT type; `None` for no NAT.
    pub fn behaviour(self) -> Option<(Mapping, Filtering)> {
        match self {
            NatType::None => None,
            NatType::FullCone => Some((Mapping::EndpointIndependent, Filtering::EndpointIndependent)),
            NatType::AddressRestricted => Some((Mapping::EndpointIndependent, Filtering::AddressDependent)),
            NatType::PortRestricted => Some((Mapping::EndpointIndependent, Filtering::AddressAndPortDependent)),
            NatType::Symmetric => Some((Mapping::AddressAndPortDependent, Filtering::AddressAndPortDependent)),
        }
    }
}

/// RFC 4787 REQ-5 asks for at least 2 minutes.
const DEFAULT_BINDING_LIFETIME: Duration = Duration::from_secs(120);

/// Ports handed out when the source port cannot be preserved (RFC 4787 REQ-3: the dynamic range).
const FIRST_RANDOM_PORT: u16 = 1024;
const RANDOM_PORTS: u64 = (u16::MAX - FIRST_RANDOM_PORT) as u64 + 1;

/// Random probes before falling back to a scan: uniform while the port space is sparse, and
/// the scan bounds the work (and finds the last free port) when it is nearly full.
const RANDOM_PROBES: usize = 16;

/// Behaviour of one NAT: what [`NatType`] names, plus the knobs that type names leave open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatConfig {
    pub mapping: Mapping,
    pub filtering: Filtering,
    /// Reuse the internal source port as the public port when it is free (RFC 4787 REQ-3).
    pub port_preservation: bool,
    /// Loop traffic to the NAT's own public address back inside (RFC 4787 REQ-9).
    pub hairpinning: bool,
    /// Idle time after the last outbound packet at which a binding dies (RFC 4787 REQ-5, REQ-6).
    pub binding_lifetime: Duration,
}

impl NatConfig {
    /// The configuration of a NAT type with the usual defaults; `None` for no NAT.
    pub fn for_type(t: NatType) -> Option<NatConfig> {
        let (mapping, filtering) = t.behaviour()?;
        Some(NatConfig {
            mapping,
            filtering,
            port_preservation: true,
            hairpinning: true,
            binding_lifetime: DEFAULT_BINDING_LIFETIME,
        })
    }
}

/// Why the NAT dropped a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// No binding owns the destination public port (or the address is not the NAT's).
    NoMapping,
    /// The binding was idle for its lifetime. The packet that finds it so removes it, so later
    /// inbound packets see `NoMapping`.
    Expired,
    /// A binding exists but its filtering rejects this remote endpoint.
    Filtered,
    /// The packet was addressed to the NAT's own public address and hairpinning is off.
    HairpinDisabled,
    /// Every public port is held by a live binding.
    PortsExhausted,
}

/// What happens to a packet from the inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// Leaves the NAT from the mapped public address `src`.
    Forward { src: SocketAddr, dst: SocketAddr },
    /// Loops back inside to the internal endpoint `dst`, appearing to come from the sender's
    /// public mapping `src`, as the target would see it from outside.
    Hairpin { src: SocketAddr, dst: SocketAddr },
    /// Dropped at the NAT; for hairpinned packets this includes the target's filtering.
    Drop(DropReason),
}

/// What happens to a packet from the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Delivered to the internal endpoint `dst`.
    Forward { dst: SocketAddr },
    /// Dropped at the NAT.
    Drop(DropReason),
}

/// The part of a remote endpoint that a mapping or filtering behaviour tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Remote {
    Any,
    Ip(IpAddr),
    Endpoint(SocketAddr),
}

impl Remote {
    fn for_mapping(m: Mapping, addr: SocketAddr) -> Remote {
        match m {
            Mapping::EndpointIndependent => Remote::Any,
            Mapping::AddressDependent => Remote::Ip(addr.ip()),
            Mapping::AddressAndPortDependent => Remote::Endpoint(addr),
        }
    }

    fn for_filtering(f: Filtering, addr: SocketAddr) -> Remote {
        match f {
            Filtering::EndpointIndependent => Remote::Any,
            Filtering::AddressDependent => Remote::Ip(addr.ip()),
            Filtering::AddressAndPortDependent => Remote::Endpoint(addr),
        }
    }
}

/// What outbound traffic is mapped by: the internal endpoint and as much of the destination as
/// the mapping behaviour distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct MapKey {
    internal: SocketAddr,
    remote: Remote,
}

#[derive(Debug, Clone)]
struct Binding {
    key: MapKey,
    last_outbound: Timestamp,
    /// Destinations sent to through this binding, reduced as the filtering behaviour
    /// distinguishes them, so that an inbound check is one lookup.
    contacted: HashSet<Remote>,
}

impl Binding {
    fn is_live(&self, now: Timestamp, lifetime: Duration) -> bool {
        now.saturating_since(self.last_outbound) < lifetime
    }
}

/// A NAT with one public address, told the time by its caller.
///
/// Expired bindings are removed lazily, when a packet or a port allocation touches them, so
/// the model needs no timer. Its only randomness is the port choice, from a stream seeded by
/// `seed` and the public address: the same seed replays the same ports, and two NATs of one
/// scenario draw independent ports.
#[derive(Debug, Clone)]
pub struct Nat {
    config: NatConfig,
    public_ip: IpAddr,
    rng: Stream,
    /// Inbound traffic only knows the public port. Never iterated in an order that matters.
    by_port: HashMap<u16, Binding>,
    /// Outbound traffic only knows the key. Always the inverse of `by_port`.
    by_key: HashMap<MapKey, u16>,
}

impl Nat {
    /// A NAT without bindings. `seed` is the scenario seed; the public address labels the
    /// random stream.
    pub fn new(config: NatConfig, public_ip: IpAddr, seed: u64) -> Nat {
        let label = match public_ip {
            IpAddr::V4(ip) => u64::from(u32::from(ip)),
            IpAddr::V6(ip) => {
                let bits = u128::from(ip);
                (bits >> 64) as u64 ^ bits as u64
            }
        };
        Nat {
            config,
            public_ip,
            rng: Stream::new(seed, label, StreamId::Nat),
            by_port: HashMap::new(),
            by_key: HashMap::new(),
        }
    }

    /// A packet from internal `src` to `dst`: creates or refreshes the binding it is mapped by.
    pub fn outbound(&mut self, now: Timestamp, src: SocketAddr, dst: SocketAddr) -> Outbound {
        let hairpin = dst.ip() == self.public_ip;
        if hairpin && !self.config.hairpinning {
            return Outbound::Drop(DropReason::HairpinDisabled);
        }
        let Some(port) = self.map(now, src, dst) else {
            return Outbound::Drop(DropReason::PortsExhausted);
        };
        let mapped = SocketAddr::new(self.public_ip, port);
        if !hairpin {
            return Outbound::Forward { src: mapped, dst };
        }
        // REQ-9: the target sees the sender's public mapping, and filters it like any remote.
        match self.inbound(now, mapped, dst) {
            Inbound::Forward { dst: internal } => Outbound::Hairpin { src: mapped, dst: internal },
            Inbound::Drop(reason) => Outbound::Drop(reason),
        }
    }

    /// A packet from remote `src` to public `dst`. Does not refresh the binding (REQ-6: only
    /// outbound traffic proves the internal host still wants it).
    pub fn inbound(&mut self, now: Timestamp, src: SocketAddr, dst: SocketAddr) -> Inbound {
        if dst.ip() != self.public_ip {
            return Inbound::Drop(DropReason::NoMapping);
        }
        let Some(binding) = self.by_port.get(&dst.port()) else {
            return Inbound::Drop(DropReason::NoMapping);
        };
        if !binding.is_live(now, self.config.binding_lifetime) {
            self.evict(dst.port());
            return Inbound::Drop(DropReason::Expired);
        }
        if !binding.contacted.contains(&Remote::for_filtering(self.config.filtering, src)) {
            return Inbound::Drop(DropReason::Filtered);
        }
        Inbound::Forward { dst: binding.key.internal }
    }

    /// Number of live bindings.
    pub fn mapping_count(&self, now: Timestamp) -> usize {
        let lifetime = self.config.binding_lifetime;
        self.by_port.values().filter(|b| b.is_live(now, lifetime)).count()
    }

    /// Public port of the binding for `src` → `dst`, refreshed or newly made; `None` when no
    /// port is free.
    fn map(&mut self, now: Timestamp, src: SocketAddr, dst: SocketAddr) -> Option<u16> {
        let key = MapKey { internal: src, remote: Remote::for_mapping(self.config.mapping, dst) };
        let filter = Remote::for_filtering(self.config.filtering, dst);
        if let Some(&port) = self.by_key.get(&key) {
            match self.by_port.get_mut(&port) {
                Some(b) if b.is_live(now, self.config.binding_lifetime) => {
                    b.last_outbound = now;
                    b.contacted.insert(filter);
                    return Some(port);
                }
                // A dead binding is not revived: its port and filter state start afresh.
                _ => self.evict(port),
            }
        }
        let port = self.allocate(now, src.port())?;
        self.by_key.insert(key, port);
        let binding = Binding { key, last_outbound: now, contacted: HashSet::from([filter]) };
        self.by_port.insert(port, binding);
        Some(port)
    }

    /// A free public port: `preferred` under port preservation, else a random one.
    fn allocate(&mut self, now: Timestamp, preferred: u16) -> Option<u16> {
        // Port 0 is not a valid UDP source port, so it is never preserved.
        if self.config.port_preservation && preferred != 0 && self.claim(now, preferred) {
            return Some(preferred);
        }
        let mut offset = 0;
        for _ in 0..RANDOM_PROBES {
            offset = self.rng.below(RANDOM_PORTS);
            if self.claim(now, random_port(offset)) {
                return Some(random_port(offset));
            }
        }
        (1..RANDOM_PORTS).map(|i| random_port((offset + i) % RANDOM_PORTS)).find(|&port| self.claim(now, port))
    }

    /// Whether `port` is free, evicting the dead binding that may still hold it.
    fn claim(&mut self, now: Timestamp, port: u16) -> bool {
        match self.by_port.get(&port) {
            None => true,
            Some(b) if b.is_live(now, self.config.binding_lifetime) => false,
            Some(_) => {
                self.evict(port);
                true
            }
        }
    }

    fn evict(&mut self, port: u16) {
        if let Some(b) = self.by_port.remove(&port) {
            self.by_key.remove(&b.key);
        }
    }
}

fn random_port(offset: u64) -> u16 {
    // `offset` < RANDOM_PORTS, so the sum stays within u16.
    FIRST_RANDOM_PORT + offset as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::Ipv4Addr;

    const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    const T0: Timestamp = Timestamp::ZERO;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn public(port: u16) -> SocketAddr {
        SocketAddr::new(PUBLIC, port)
    }

    fn defaults(t: NatType) -> NatConfig {
        NatConfig::for_type(t).expect("a NAT type")
    }

    fn nat(t: NatType) -> Nat {
        Nat::new(defaults(t), PUBLIC, 7)
    }

    /// A NAT with any mapping and filtering pair and a 30 s binding lifetime.
    fn nat_with(mapping: Mapping, filtering: Filtering) -> Nat {
        let config = NatConfig {
            mapping,
            filtering,
            port_preservation: true,
            hairpinning: true,
            binding_lifetime: Duration::from_secs(30),
        };
        Nat::new(config, PUBLIC, 7)
    }

    /// The public address `src` → `dst` leaves from; panics on anything but `Forward`.
    fn send(nat: &mut Nat, now: Timestamp, src: &str, dst: &str) -> SocketAddr {
        match nat.outbound(now, addr(src), addr(dst)) {
            Outbound::Forward { src: mapped, dst: d } => {
                assert_eq!(d, addr(dst));
                mapped
            }
            other => panic!("expected Forward, got {other:?}"),
        }
    }

    #[test]
    fn for_type_uses_behaviour_and_defaults() {
        assert_eq!(NatConfig::for_type(NatType::None), None);
        for t in NatType::ALL.into_iter().skip(1) {
            let c = defaults(t);
            assert_eq!(Some((c.mapping, c.filtering)), t.behaviour());
            assert!(c.port_preservation && c.hairpinning);
            assert_eq!(c.binding_lifetime, Duration::from_secs(120));
        }
    }

    #[test]
    fn endpoint_independent_mapping_reuses_one_port() {
        let mut n = nat(NatType::FullCone);
        let a = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let b = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3479");
        let c = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.2:3478");
        assert_eq!(a, public(5000));
        assert_eq!((a, a), (b, c));
        assert_eq!(n.mapping_count(T0), 1);
    }

    #[test]
    fn address_dependent_mapping_has_one_port_per_ip() {
        let mut n = nat_with(Mapping::AddressDependent, Filtering::AddressDependent);
        let a = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let b = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3479");
        let c = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.2:3478");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(n.mapping_count(T0), 2);
    }

    #[test]
    fn address_and_port_dependent_mapping_has_one_port_per_endpoint() {
        let mut n = nat(NatType::Symmetric);
        let a = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let b = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3479");
        let c = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.2:3478");
        let again = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        assert!(a != b && a != c && b != c);
        assert_eq!(a, again);
        assert_eq!(n.mapping_count(T0), 3);
    }

    #[test]
    fn full_cone_accepts_anyone() {
        let mut n = nat(NatType::FullCone);
        let m = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let internal = Inbound::Forward { dst: addr("100.64.0.2:5000") };
        assert_eq!(n.inbound(T0, addr("198.19.9.9:1234"), m), internal);
    }

    #[test]
    fn address_restricted_filters_by_ip() {
        let mut n = nat(NatType::AddressRestricted);
        let m = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let internal = Inbound::Forward { dst: addr("100.64.0.2:5000") };
        assert_eq!(n.inbound(T0, addr("198.19.0.1:9999"), m), internal);
        assert_eq!(n.inbound(T0, addr("198.19.0.2:3478"), m), Inbound::Drop(DropReason::Filtered));
    }

    #[test]
    fn port_restricted_filters_by_endpoint() {
        let mut n = nat(NatType::PortRestricted);
        let m = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let internal = Inbound::Forward { dst: addr("100.64.0.2:5000") };
        assert_eq!(n.inbound(T0, addr("198.19.0.1:3478"), m), internal);
        assert_eq!(n.inbound(T0, addr("198.19.0.1:3479"), m), Inbound::Drop(DropReason::Filtered));
    }

    #[test]
    fn symmetric_filters_per_binding() {
        let mut n = nat(NatType::Symmetric);
        let a = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        send(&mut n, T0, "100.64.0.2:5000", "198.19.0.2:3478");
        // 198.19.0.2 was contacted, but through another binding.
        assert_eq!(n.inbound(T0, addr("198.19.0.2:3478"), a), Inbound::Drop(DropReason::Filtered));
        let internal = Inbound::Forward { dst: addr("100.64.0.2:5000") };
        assert_eq!(n.inbound(T0, addr("198.19.0.1:3478"), a), internal);
    }

    #[test]
    fn inbound_without_binding_is_dropped() {
        let mut n = nat(NatType::FullCone);
        send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let drop = Inbound::Drop(DropReason::NoMapping);
        assert_eq!(n.inbound(T0, addr("198.19.0.1:3478"), public(5001)), drop);
        assert_eq!(n.inbound(T0, addr("198.19.0.1:3478"), addr("198.18.0.2:5000")), drop);
    }

    #[test]
    fn binding_expires_after_lifetime_without_refresh() {
        let mut n = nat_with(Mapping::EndpointIndependent, Filtering::EndpointIndependent);
        let m = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let remote = addr("198.19.0.1:3478");
        let last_live = T0 + (Duration::from_secs(30) - Duration::from_nanos(1));
        // Inbound traffic must not extend the binding.
        assert!(matches!(n.inbound(last_live, remote, m), Inbound::Forward { .. }));
        assert_eq!(n.mapping_count(last_live), 1);
        let dead = T0 + Duration::from_secs(30);
        assert_eq!(n.mapping_count(dead), 0);
        assert_eq!(n.inbound(dead, remote, m), Inbound::Drop(DropReason::Expired));
        assert_eq!(n.inbound(dead, remote, m), Inbound::Drop(DropReason::NoMapping));
    }

    #[test]
    fn outbound_refreshes_binding() {
        let mut n = nat_with(Mapping::EndpointIndependent, Filtering::EndpointIndependent);
        let m = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let t1 = T0 + Duration::from_secs(20);
        assert_eq!(send(&mut n, t1, "100.64.0.2:5000", "198.19.0.2:3478"), m);
        let remote = addr("198.19.0.1:3478");
        assert!(matches!(n.inbound(t1 + Duration::from_secs(29), remote, m), Inbound::Forward { .. }));
        let expired = Inbound::Drop(DropReason::Expired);
        assert_eq!(n.inbound(t1 + Duration::from_secs(30), remote, m), expired);
    }

    #[test]
    fn expired_binding_is_replaced_with_fresh_filter_state() {
        let mut n = nat(NatType::PortRestricted);
        let m = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let later = T0 + Duration::from_secs(121);
        assert_eq!(send(&mut n, later, "100.64.0.2:5000", "198.19.0.2:3478"), m);
        assert_eq!(n.inbound(later, addr("198.19.0.1:3478"), m), Inbound::Drop(DropReason::Filtered));
    }

    #[test]
    fn port_preservation_on_keeps_source_port() {
        let mut n = nat(NatType::PortRestricted);
        assert_eq!(send(&mut n, T0, "100.64.0.2:40000", "198.19.0.1:3478"), public(40000));
    }

    #[test]
    fn port_preservation_off_picks_seeded_random_ports() {
        let cfg = NatConfig { port_preservation: false, ..defaults(NatType::FullCone) };
        let ports = |seed| {
            let mut n = Nat::new(cfg, PUBLIC, seed);
            (0..8)
                .map(|i| send(&mut n, T0, &format!("100.64.0.{}:5000", i + 2), "198.19.0.1:3478").port())
                .collect::<Vec<_>>()
        };
        let a = ports(1);
        assert_eq!(a, ports(1));
        assert_ne!(a, ports(2));
        assert!(a.iter().all(|&p| p >= 1024));
        assert!(!a.contains(&5000));
    }

    #[test]
    fn colliding_source_ports_get_distinct_public_ports() {
        let mut n = nat(NatType::FullCone);
        let a = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let b = send(&mut n, T0, "100.64.0.3:5000", "198.19.0.1:3478");
        assert_eq!(a, public(5000));
        assert_ne!(a, b);
        let second = Inbound::Forward { dst: addr("100.64.0.3:5000") };
        assert_eq!(n.inbound(T0, addr("198.19.0.1:3478"), b), second);
    }

    #[test]
    fn hairpin_delivers_from_the_senders_public_mapping() {
        let mut n = nat(NatType::FullCone);
        let target = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let out = n.outbound(T0, addr("100.64.0.3:6000"), target);
        assert_eq!(out, Outbound::Hairpin { src: public(6000), dst: addr("100.64.0.2:5000") });
        // The sender's binding towards its own NAT is real: the target can answer through it.
        let back = n.outbound(T0, addr("100.64.0.2:5000"), public(6000));
        assert_eq!(back, Outbound::Hairpin { src: target, dst: addr("100.64.0.3:6000") });
    }

    #[test]
    fn hairpin_respects_target_filtering() {
        let mut n = nat(NatType::PortRestricted);
        let target = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let first = n.outbound(T0, addr("100.64.0.3:6000"), target);
        assert_eq!(first, Outbound::Drop(DropReason::Filtered));
        // The dropped attempt still opened the sender's binding, so the target's answer gets
        // through, and that opens the target's filter for the sender: a hairpinned hole punch.
        let back = n.outbound(T0, addr("100.64.0.2:5000"), public(6000));
        assert_eq!(back, Outbound::Hairpin { src: target, dst: addr("100.64.0.3:6000") });
        let out = n.outbound(T0, addr("100.64.0.3:6000"), target);
        assert_eq!(out, Outbound::Hairpin { src: public(6000), dst: addr("100.64.0.2:5000") });
        let unbound = n.outbound(T0, addr("100.64.0.3:6000"), public(7000));
        assert_eq!(unbound, Outbound::Drop(DropReason::NoMapping));
    }

    #[test]
    fn hairpin_disabled_drops() {
        let cfg = NatConfig { hairpinning: false, ..defaults(NatType::FullCone) };
        let mut n = Nat::new(cfg, PUBLIC, 7);
        let target = send(&mut n, T0, "100.64.0.2:5000", "198.19.0.1:3478");
        let out = n.outbound(T0, addr("100.64.0.3:6000"), target);
        assert_eq!(out, Outbound::Drop(DropReason::HairpinDisabled));
        assert_eq!(n.mapping_count(T0), 1);
    }

    #[test]
    fn ports_exhausted_until_bindings_expire() {
        let cfg = NatConfig { port_preservation: false, ..defaults(NatType::Symmetric) };
        let mut n = Nat::new(cfg, PUBLIC, 7);
        let src = addr("100.64.0.2:5000");
        let dst = |i: u64| SocketAddr::new(Ipv4Addr::new(198, 19, (i >> 8) as u8, i as u8).into(), 3478);
        let mut ports = HashSet::new();
        for i in 0..RANDOM_PORTS {
            match n.outbound(T0, src, dst(i)) {
                Outbound::Forward { src: mapped, .. } => assert!(ports.insert(mapped.port())),
                other => panic!("binding {i}: {other:?}"),
            }
        }
        assert_eq!(n.outbound(T0, src, dst(RANDOM_PORTS)), Outbound::Drop(DropReason::PortsExhausted));
        let later = T0 + cfg.binding_lifetime;
        assert!(matches!(n.outbound(later, src, dst(RANDOM_PORTS)), Outbound::Forward { .. }));
        assert_eq!(n.mapping_count(later), 1);
    }
}
