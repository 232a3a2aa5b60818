//! The reference voice-agent server Jitterbug tests: WHIP signalling over HTTPS, a webrtc-rs
//! 0.21 peer connection per call (ICE-lite, audio only), the shared jitter buffer and codecs
//! from `jitterbug-core`, turn detection and an ASR → agent → TTS pipeline of known cost.

pub mod cli;
pub mod config;
pub mod conversation;
pub mod offer;
pub mod pipeline;
pub mod presets;
pub mod prometheus;
pub mod sdp_munge;
pub mod server;
pub mod session;
pub mod tls;
pub mod wav;

pub use config::{AgentConfig, TlsSource};

/// This agent's version (the report's environment names it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use pipeline::{Behaviour, StageBudgets};
pub use server::{Agent, serve};
