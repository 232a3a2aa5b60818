//! Live calls: real UDP in real time. The agent (the reference agent started here, or any
//! WHIP agent), the userspace impairment relay in front of it, coturn for TURN profiles, and
//! a caller — the native client on the webrtc-rs sans-I/O core, or a browser — over one call
//! path, scored into the same result schema as the simulator.

pub mod agent;
pub mod call;
pub mod caller;
pub mod client;
pub mod coturn;
pub mod relay;
