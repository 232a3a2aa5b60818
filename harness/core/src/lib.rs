//! Jitterbug's sans-I/O core: everything the simulator, the live relay, the agent and the
//! native client share. No tokio, no sockets, no clocks: cores are told the time.

pub mod agent_trace;
pub mod baseline;
pub mod codec;
pub mod delay_model;
pub mod distribution;
pub mod due_queue;
pub mod expectation;
pub mod identity;
pub mod impairment;
pub mod jitter_buffer;
pub mod loss_model;
pub mod metrics;
pub mod nat;
pub mod packetizer;
pub mod path;
pub mod preset;
pub mod profile;
pub mod rate_queue;
pub mod reorder;
pub mod replay_result;
pub mod results;
pub mod rng;
pub mod rtp;
pub mod rtpdump;
pub mod sample;
pub mod schedule;
pub mod time;
pub mod train;
pub mod vad;
