//! What an agent is told at start-up: where to listen, who may call, how to sound.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use jitterbug_core::preset::Preset;

use crate::pipeline::{Behaviour, StageBudgets};

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A fresh CA and a leaf for `localhost`/the listen address, made at start-up; the CA's PEM
    /// is available from the running agent (and written to `ca_out` when given) so a client
    /// can trust it with `--ca`.
    Generate { ca_out: Option<PathBuf> },
    /// PEM files: certificate chain and private key.
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// HTTPS signalling address.
    pub listen: SocketAddr,
    /// Bearer token every request must carry.
    pub token: String,
    pub preset: Preset,
    pub behaviour: Behaviour,
    /// Address each session's media socket binds to.
    pub media_ip: IpAddr,
    /// A fixed media port (a relay or port forward in front needs to know it); `None` picks one
    /// per session. With a fixed port only one session can run at a time.
    pub media_port: Option<u16>,
    /// Address advertised in the answer's candidates instead of `media_ip`, port preserved
    /// (a 1:1 NAT, or the impairment relay, sits in front and forwards to `media_ip`).
    pub advertise_ip: Option<IpAddr>,
    pub max_sessions: usize,
    /// A session with no media and no signalling for this long is closed.
    pub idle_timeout: Duration,
    /// Largest accepted request body (an SDP offer is a few kB).
    pub max_body_bytes: usize,
    pub tls: TlsSource,
    /// When set, each session writes `<id>.uplink.wav` (what the agent decoded), `<id>.downlink.wav`
    /// and `<id>.downlink.rtpdump` (what it sent) and `<id>.trace.json`.
    pub record_dir: Option<PathBuf>,
    pub budgets: StageBudgets,
    /// Silence after speech that ends a user turn.
    pub turn_hangover: Duration,
}

impl AgentConfig {
    /// Loopback defaults for a given preset and token.
    pub fn loopback(preset: Preset, token: impl Into<String>) -> AgentConfig {
        AgentConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: token.into(),
            preset,
            behaviour: Behaviour::Echo,
            media_ip: IpAddr::from([127, 0, 0, 1]),
            media_port: None,
            advertise_ip: None,
            max_sessions: 16,
            idle_timeout: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
            tls: TlsSource::Generate { ca_out: None },
            record_dir: None,
            budgets: StageBudgets::default(),
            turn_hangover: Duration::from_millis(600),
        }
    }
}
