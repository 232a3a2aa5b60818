//! The media path's driver of the shared packet path ([`jitterbug_core::path`]): a direction's
//! RTP packets in at their send times, the copies that arrive out in arrival order.

use jitterbug_core::impairment::Direction;
use jitterbug_core::path::{Output, PacketPath, Policy};
use jitterbug_core::profile::Profile;
use jitterbug_core::results::NetworkCounters;
use jitterbug_core::time::Timestamp;

use super::receiver::Arrival;
use super::sender::SentPacket;

/// Runs `sent` through `direction` of `profile`; arrivals come back in delivery order (ties in
/// send order, a duplicate right behind its original).
pub fn transmit(
    profile: &Profile,
    seed: u64,
    direction: Direction,
    sent: &[SentPacket],
) -> (Vec<Arrival>, NetworkCounters) {
    let mut path = PacketPath::new(profile, seed, Policy::RtpImpaired);
    for (index, p) in sent.iter().enumerate() {
        path.handle_input(p.at, direction, p.bytes.clone(), index);
    }
    let mut arrivals = Vec::with_capacity(sent.len());
    while let Output::Deliver(d) = path.poll_output(Timestamp::MAX) {
        arrivals.push(Arrival { at: d.at, bytes: d.bytes, index: d.tag, corrupted: d.corrupted });
    }
    (arrivals, *path.report().rtp.get(direction))
}
