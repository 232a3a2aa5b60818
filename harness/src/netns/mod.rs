//! The `netns` backend: each call gets its own client, router and server network namespaces,
//! with real Linux NAT (nft) in the router and the profile's impairment applied by an NFQUEUE
//! verdict loop on the same impairment core as `sim` and `live`. Needs root; kernel netem is
//! not used (the machines this runs on do not have it).

pub mod call;
pub mod conntrack;
pub mod nat_rules;
pub mod router;
pub mod topology;
