//! The agent's command-line options, shared by `jitterbug-agent` and `jitterbug agent`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use jitterbug_core::preset::Preset;

use crate::pipeline::{ScriptedClip, StageBudgets};
use crate::{AgentConfig, Behaviour, TlsSource, presets, serve};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// HTTPS signalling address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Bearer token every WHIP request must carry.
    #[arg(long, env = "JITTERBUG_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Settings preset (codec, frame size, jitter buffer).
    #[arg(long, default_value = "balanced-fec", value_parser = presets::load)]
    pub preset: Preset,
    #[arg(long, value_enum, default_value_t = BehaviourArg::Echo)]
    pub behaviour: BehaviourArg,
    /// With `--behaviour scripted`: the answers, 48 kHz mono WAV files, used in turn.
    #[arg(long, value_delimiter = ',', value_name = "WAV")]
    pub script: Vec<PathBuf>,
    /// Silence after the user's speech that ends a turn, ms.
    #[arg(long, default_value_t = 600)]
    pub hangover_ms: u64,
    /// Latency budget of the ASR stage, ms (design report table 5: 100-250).
    #[arg(long, default_value_t = 100)]
    pub asr_ms: u64,
    /// Latency budget of the agent (LLM) stage, ms (design report table 5: 100-300).
    #[arg(long, default_value_t = 100)]
    pub agent_ms: u64,
    /// Time to the first synthesised frame, ms (design report table 5: 80-200).
    #[arg(long, default_value_t = 80)]
    pub tts_ms: u64,
    /// Address media sockets bind to [default: the listen address].
    #[arg(long)]
    pub media_ip: Option<IpAddr>,
    /// Fixed media port (default: one per session). Only one session at a time can use it.
    #[arg(long)]
    pub media_port: Option<u16>,
    /// Address put in answer candidates instead of the media address (a NAT or relay in front).
    #[arg(long)]
    pub advertise_ip: Option<IpAddr>,
    #[arg(long, default_value_t = 16)]
    pub max_sessions: usize,
    /// Close a session after this many seconds without media or signalling.
    #[arg(long, default_value_t = 30)]
    pub idle_timeout_s: u64,
    /// PEM certificate chain (with --key) instead of a generated test CA.
    #[arg(long, requires = "key", conflicts_with = "ca_out")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Write the generated CA certificate here, for clients' --ca.
    #[arg(long)]
    pub ca_out: Option<PathBuf>,
    /// Write each session's recordings here: `<id>.uplink.wav` (what it decoded),
    /// `<id>.downlink.wav` and `<id>.downlink.rtpdump` (what it sent, for `jitterbug replay
    /// --payloads`) and `<id>.trace.json`.
    #[arg(long)]
    pub record_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BehaviourArg {
    /// Play each user turn back.
    Echo,
    /// Answer each turn with the next `--script` clip.
    Scripted,
}

impl AgentArgs {
    /// The configuration these options describe (reads the script's WAV files).
    pub fn config(&self) -> anyhow::Result<AgentConfig> {
        let mut config = AgentConfig::loopback(self.preset.clone(), self.token.clone());
        config.listen = self.listen;
        config.behaviour = match self.behaviour {
            BehaviourArg::Echo => Behaviour::Echo,
            BehaviourArg::Scripted => {
                if self.script.is_empty() {
                    bail!("--behaviour scripted needs --script with at least one WAV file");
                }
                Behaviour::Scripted(self.script.iter().map(|p| read_clip(p)).collect::<anyhow::Result<_>>()?)
            }
        };
        config.media_ip = self.media_ip.unwrap_or(self.listen.ip());
        config.media_port = self.media_port;
        config.advertise_ip = self.advertise_ip;
        config.max_sessions = self.max_sessions;
        config.idle_timeout = Duration::from_secs(self.idle_timeout_s);
        config.record_dir = self.record_dir.clone();
        config.turn_hangover = Duration::from_millis(self.hangover_ms);
        config.budgets = StageBudgets {
            asr: Duration::from_millis(self.asr_ms),
            agent: Duration::from_millis(self.agent_ms),
            tts: Duration::from_millis(self.tts_ms),
        };
        config.tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => TlsSource::Files { cert: cert.clone(), key: key.clone() },
            _ => TlsSource::Generate { ca_out: self.ca_out.clone() },
        };
        Ok(config)
    }

    /// Serves until Ctrl-C, printing the WHIP URL on stdout.
    pub async fn serve_until_ctrl_c(&self) -> anyhow::Result<()> {
        let agent = serve(self.config()?).await?;
        println!("{}", agent.url());
        match (&self.ca_out, agent.ca_pem()) {
            (Some(path), Some(_)) => eprintln!("test CA written to {}", path.display()),
            (None, Some(_)) => eprintln!("generated a test CA; pass --ca-out FILE to let clients trust it"),
            _ => {}
        }
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
        eprintln!("shutting down");
        agent.shutdown().await;
        Ok(())
    }
}

/// A scripted answer: 16-bit mono WAV at 48 kHz.
fn read_clip(path: &Path) -> anyhow::Result<ScriptedClip> {
    let bytes = std::fs::read(path).with_context(|| format!("--script {}", path.display()))?;
    let samples = crate::wav::parse_mono_48k(&bytes).with_context(|| format!("--script {}", path.display()))?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("clip").to_owned();
    Ok(ScriptedClip { name, samples })
}
