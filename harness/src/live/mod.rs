//! Live runs: real UDP on loopback. The reference agent (or any WHIP agent), the userspace
//! impairment relay in front of it, coturn for TURN profiles, and the native client on the
//! webrtc-rs sans-I/O core — scored like the simulator, into the same result schema.

pub mod agent_record;
pub mod browser_call;
pub mod call;
pub mod client;
pub mod coturn;
pub mod relay;
pub mod whip_client;
