//! The router's NAT mappings as conntrack lists them: evidence that the kernel, not a model,
//! translated the call (and how: a preserved or a random public port).

use std::net::{IpAddr, SocketAddr};

use crate::live::relay::NatMapping;

/// Parses `conntrack -L -p udp` lines: the original tuple (`src dst sport dport`) then the
/// reply tuple, whose destination is the public address the NAT gave the client. Flows whose
/// reply goes back to the original source (no translation) are left out.
pub fn nat_mappings(listing: &str) -> Vec<NatMapping> {
    listing
        .lines()
        .filter_map(|line| {
            let field = |key: &str, nth: usize| -> Option<&str> {
                line.split_whitespace().filter_map(|w| w.strip_prefix(key)).nth(nth)
            };
            let addr = |ip: &str, port: &str| -> Option<SocketAddr> {
                Some(SocketAddr::new(ip.parse::<IpAddr>().ok()?, port.parse().ok()?))
            };
            let internal = addr(field("src=", 0)?, field("sport=", 0)?)?;
            let remote = addr(field("dst=", 0)?, field("dport=", 0)?)?;
            let public = addr(field("dst=", 1)?, field("dport=", 1)?)?;
            (public != internal).then_some(NatMapping { internal, public, remote })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translated_flows_are_listed() {
        let listing = "udp      17 29 src=100.64.0.2 dst=198.18.0.2 sport=42768 dport=40123 src=198.18.0.2 dst=198.18.0.1 sport=40123 dport=61001 [ASSURED] mark=0 use=1\n\
                       udp      17 29 src=100.64.0.2 dst=198.18.0.2 sport=5000 dport=6000 src=198.18.0.2 dst=100.64.0.2 sport=6000 dport=5000 mark=0 use=1\n";
        let m = nat_mappings(listing);
        assert_eq!(m.len(), 1, "the untranslated flow is not a mapping");
        assert_eq!(m[0].internal, "100.64.0.2:42768".parse::<SocketAddr>().unwrap());
        assert_eq!(m[0].public, "198.18.0.1:61001".parse::<SocketAddr>().unwrap());
        assert_eq!(m[0].remote, "198.18.0.2:40123".parse::<SocketAddr>().unwrap());
    }
}
