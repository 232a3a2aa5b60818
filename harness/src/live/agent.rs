//! The far end of a live call: the reference agent started here — on loopback behind the relay,
//! or by the netns backend inside the server namespace — or any running WHIP agent. One
//! starter, so every backend runs the same agent the same way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use jitterbug_agent::{AgentConfig, Behaviour};
use jitterbug_core::preset::Preset;
use jitterbug_core::rng::{Stream, StreamId};

use crate::whip_client::{Trust, WhipClient};

/// Where the agent is.
#[derive(Debug, Clone)]
pub enum AgentTarget {
    /// Start the reference agent with the scenario's preset for this call.
    InProcess,
    /// A running WHIP agent; the relay is spliced in by rewriting the answer's candidates.
    Remote(RemoteAgent),
}

#[derive(Debug, Clone)]
pub struct RemoteAgent {
    pub url: String,
    pub token: String,
    pub trust: Trust,
    /// Its `--record-dir`, when it runs on this host: both directions are then scored from
    /// its recordings (otherwise only what the caller measures is reported).
    pub recordings: Option<PathBuf>,
}

/// Where a reference agent listens and what address its answers carry.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// WHIP over HTTPS.
    pub listen: SocketAddr,
    /// Its media socket.
    pub media: SocketAddr,
    /// The address its answers advertise instead of `media`'s (the relay in front of it).
    pub advertise: Option<IpAddr>,
}

impl Placement {
    /// On loopback, behind a relay listening on `relay_ip` with the agent's port: the media
    /// port is fixed up front so the relay can be in place before the call is signalled.
    pub fn behind_relay(relay_ip: Ipv4Addr) -> anyhow::Result<Placement> {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(Placement {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            media: SocketAddr::from(([127, 0, 0, 1], port)),
            advertise: Some(IpAddr::V4(relay_ip)),
        })
    }
}

/// The reference agent's configuration for one call: echo behaviour, the call's preset, one
/// session, recordings for two-sided scoring.
pub fn reference_config(preset: &Preset, seed: u64, placement: Placement, record_dir: &Path) -> AgentConfig {
    let mut c = AgentConfig::loopback(preset.clone(), random_token(seed));
    c.listen = placement.listen;
    c.media_ip = placement.media.ip();
    c.media_port = (placement.media.port() != 0).then_some(placement.media.port());
    c.advertise_ip = placement.advertise;
    c.record_dir = Some(record_dir.to_path_buf());
    c.behaviour = Behaviour::Echo;
    c.max_sessions = 1;
    c
}

/// A bearer token nobody can guess (the agent listens on a port other processes can reach).
fn random_token(seed: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut s = Stream::new(seed ^ now, 9, StreamId::Media);
    format!("{:016x}{:016x}", s.next_u64(), s.next_u64())
}

/// An agent ready for a call.
pub struct RunningAgent {
    pub whip: WhipClient,
    /// Where its recordings and traces go (or went).
    pub record_dir: PathBuf,
    /// Where a reference agent started here sits (known before signalling); `None` for a
    /// remote agent, whose media address only its answer tells.
    pub placement: Option<Placement>,
    in_process: Option<jitterbug_agent::Agent>,
}

impl RunningAgent {
    /// Starts the reference agent on loopback behind the relay's address, or reaches
    /// `target`'s remote agent.
    pub async fn start(
        target: &AgentTarget,
        preset: &Preset,
        seed: u64,
        scratch: &Path,
    ) -> anyhow::Result<RunningAgent> {
        match target {
            AgentTarget::InProcess => {
                let placement = Placement::behind_relay(super::relay::RELAY_IP)?;
                let record_dir = scratch.join("agent");
                let config = reference_config(preset, seed, placement, &record_dir);
                let agent = jitterbug_agent::serve(config.clone()).await.context("starting the reference agent")?;
                let ca = agent.ca_pem().map(str::to_owned).ok_or_else(|| anyhow!("the agent has no generated CA"))?;
                let whip = WhipClient::new(&agent.url(), &config.token, Trust::CaPem(ca))?;
                Ok(RunningAgent { whip, record_dir, placement: Some(placement), in_process: Some(agent) })
            }
            AgentTarget::Remote(r) => Ok(RunningAgent {
                whip: WhipClient::new(&r.url, &r.token, r.trust.clone())?,
                record_dir: r.recordings.clone().unwrap_or_else(|| scratch.join("agent")),
                placement: None,
                in_process: None,
            }),
        }
    }

    pub async fn shutdown(self) {
        if let Some(agent) = self.in_process {
            agent.shutdown().await;
        }
    }
}
