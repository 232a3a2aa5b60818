//! Captures as pcap files Wireshark opens, and captures read back — ours or anyone's — for
//! replay. Ours are raw IPv4/UDP around each datagram, nanosecond timestamps of when it left
//! the path (virtual time from [`EPOCH`] in the simulator, wall-clock time live, so a sender's
//! record on the same host lines up with it), a corrupted datagram marked by a UDP checksum
//! that does not verify.

mod ip;
mod reader;
mod writer;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

pub use ip::Checksum;
pub use reader::{Capture, Captured, PcapReadError, read};
pub use writer::write;

/// The simulator's virtual time zero is placed at 2026-01-01T00:00:00Z in its captures, so they
/// show plausible dates and a replay can tell where the call began.
pub const EPOCH: Duration = Duration::from_secs(1_767_225_600);

/// Addresses used in simulated captures (documentation/test ranges the project may use).
pub const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(100, 64, 0, 2), 50_000);
pub const AGENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40_000);

/// One datagram as it left the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub at: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub bytes: Vec<u8>,
    /// A bit was flipped on the way: written with a UDP checksum that fails, as the receiver's
    /// stack (or SRTP authentication) would reject it.
    pub corrupted: bool,
}
