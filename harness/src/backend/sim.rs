//! The virtual-time backends: the media path, or the real webrtc-rs stack in virtual time.

use jitterbug_core::identity::{BackendKind, Client};

use super::{Backend, Concurrency, Unsupported};
use crate::artifacts::{Artifact, CallArtifacts};
use crate::scenario::Scenario;
use crate::sim::{self, encode_cache::EncodeCache, full_stack};

/// Which simulator runs the scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The media path: RTP straight through the impairment core.
    #[default]
    MediaPath,
    /// The real webrtc-rs stack (ICE + DTLS + SRTP + RTCP) in virtual time.
    FullStack,
}

/// Deterministic by seed; every worker shares one cache of encoded clips.
#[derive(Debug, Default)]
pub struct SimBackend {
    pub mode: Mode,
    cache: EncodeCache,
}

impl SimBackend {
    pub fn new(mode: Mode) -> SimBackend {
        SimBackend { mode, cache: EncodeCache::default() }
    }
}

impl Backend for SimBackend {
    fn kind(&self) -> BackendKind {
        match self.mode {
            Mode::MediaPath => BackendKind::Sim,
            Mode::FullStack => BackendKind::SimFullStack,
        }
    }

    fn supports(&self, s: &Scenario<'_>) -> Result<(), Unsupported> {
        match s.client {
            Client::Native => Ok(()),
            Client::Browser(b) => Err(Unsupported(format!(
                "the simulators' caller is the native client; {} calls need --backend live",
                b.name()
            ))),
        }
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency::Cores
    }

    /// `degraded.wav` is what the user heard (downlink), `degraded-uplink.wav` what the agent
    /// heard; the media path adds `capture.pcap` and what each side sent (`uplink.rtpdump`,
    /// `downlink.rtpdump`: `jitterbug replay` takes send times from them), the full stack
    /// `full-stack.json` (its packets are encrypted, so it has no capture).
    fn run(&self, s: &Scenario<'_>) -> anyhow::Result<CallArtifacts> {
        Ok(match self.mode {
            Mode::MediaPath => {
                let o = sim::run(s, &self.cache);
                CallArtifacts {
                    result: o.result,
                    files: vec![
                        Artifact::Wav { name: "degraded.wav", pcm: o.downlink_audio },
                        Artifact::Wav { name: "degraded-uplink.wav", pcm: o.uplink_audio },
                        Artifact::Pcap { name: "capture.pcap", datagrams: o.capture, zero: crate::pcap::EPOCH },
                        Artifact::Rtpdump { name: "uplink.rtpdump", dump: o.uplink_sent },
                        Artifact::Rtpdump { name: "downlink.rtpdump", dump: o.downlink_sent },
                    ],
                }
            }
            Mode::FullStack => {
                let o = full_stack::run_full_stack(s, &self.cache);
                CallArtifacts {
                    files: vec![
                        Artifact::json("full-stack.json", &o.full_stack)?,
                        Artifact::Wav { name: "degraded.wav", pcm: o.downlink_audio },
                        Artifact::Wav { name: "degraded-uplink.wav", pcm: o.uplink_audio },
                    ],
                    result: o.result,
                }
            }
        })
    }

    fn keeps_evidence(&self) -> bool {
        false
    }

    /// The media path's id in both modes, so a shard holds the same scenarios either way.
    fn shard_key(&self, s: &Scenario<'_>) -> String {
        s.id(BackendKind::Sim)
    }
}
