//! The router's NAT as an nft ruleset, per RFC 4787 type (recipes and their measured
//! behaviour in docs/network-emulation.md): Linux masquerade is a port-restricted cone;
//! `random` makes it symmetric; full-cone and address-restricted need a DNAT map keyed by the
//! preserved port (and a set of contacted addresses for the restriction).

use std::net::Ipv4Addr;

use jitterbug_core::nat::NatType;

use super::topology::{ROUTER_CLIENT_IF, ROUTER_SERVER_IF};

/// The nft table every rule lives in (one per router namespace).
pub const TABLE: &str = "jitterbug_nat";

/// The ruleset for a client-side NAT of type `nat` with public address `public`; `None` when
/// the client has a public address (then the server routes back to it instead).
pub fn ruleset(nat: NatType, public: Ipv4Addr) -> Option<String> {
    let (rc, rs) = (ROUTER_CLIENT_IF, ROUTER_SERVER_IF);
    let masquerade = |flags: &str| {
        format!(
            "table ip {TABLE} {{\n  chain post {{ type nat hook postrouting priority srcnat; oifname \"{rs}\" masquerade{flags}; }}\n}}\n"
        )
    };
    // Inbound packets to the public address are sent to whoever owns the port; the
    // address-restricted variant also asks that the client contacted that address before.
    let cone = |gate: &str| {
        format!(
            "table ip {TABLE} {{
  map pmap {{ type inet_service : ipv4_addr; flags dynamic,timeout; timeout 120s; }}
  set contacted {{ type ipv4_addr . inet_service; flags dynamic,timeout; timeout 120s; }}
  chain pre {{ type nat hook prerouting priority dstnat;
    iifname \"{rs}\" ip daddr {public} meta l4proto udp{gate} dnat to udp dport map @pmap; }}
  chain post {{ type nat hook postrouting priority srcnat; oifname \"{rs}\" masquerade; }}
  chain c_fwd {{ type filter hook forward priority 0;
    iifname \"{rc}\" oifname \"{rs}\" meta l4proto udp update @pmap {{ udp sport : ip saddr }} update @contacted {{ ip daddr . udp sport }}; }}
}}
"
        )
    };
    match nat {
        NatType::None => None,
        NatType::PortRestricted => Some(masquerade("")),
        NatType::Symmetric => Some(masquerade(" random")),
        NatType::FullCone => Some(cone("")),
        NatType::AddressRestricted => Some(cone(" ip saddr . udp dport @contacted")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_nat_type_has_its_rules() {
        let public = Ipv4Addr::new(198, 18, 3, 1);
        assert_eq!(ruleset(NatType::None, public), None);
        let port = ruleset(NatType::PortRestricted, public).unwrap();
        assert!(port.contains("oifname \"rs\" masquerade;") && !port.contains("dnat"), "{port}");
        assert!(ruleset(NatType::Symmetric, public).unwrap().contains("masquerade random;"));
        let full = ruleset(NatType::FullCone, public).unwrap();
        assert!(full.contains("ip daddr 198.18.3.1 meta l4proto udp dnat to udp dport map @pmap"), "{full}");
        let restricted = ruleset(NatType::AddressRestricted, public).unwrap();
        assert!(restricted.contains("ip saddr . udp dport @contacted dnat"), "{restricted}");
    }
}
