//! What the page is told to do: served as `/config.json`, read by `client.js`.

use serde::Serialize;

/// Where the sent audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Source {
    /// The clip through Web Audio into a MediaStream track, started when the call connects
    /// (works in every browser; the sent tap is exact).
    #[default]
    #[serde(rename = "webaudio")]
    WebAudio,
    /// The microphone track itself, fed from the clip by Chromium's
    /// `--use-file-for-fake-audio-capture` (so it passes the browser's voice processing).
    #[serde(rename = "fake-capture")]
    FakeCapture,
}

/// One `RTCIceServer`, as the page passes it to `RTCPeerConnection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:…`.
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `/config.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PageConfig {
    /// How long the clip plays (it is cut there if longer).
    pub duration_s: f64,
    /// How long recording goes on after that, for the agent's last answer.
    pub tail_s: f64,
    pub source: Source,
    pub ice_servers: Vec<IceServer>,
    /// `"all"` or `"relay"` (TURN only).
    pub ice_transport_policy: &'static str,
    /// Whether the page may offer RED (RFC 2198 redundancy); Opus is always preferred.
    pub allow_red: bool,
    pub stats_interval_ms: u64,
}

/// A certificate the browser must trust for this run (coturn's TURN-over-TLS listener): the
/// harness adds it to the browser's own trust, never "accept any certificate".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertTrust {
    /// The throwaway CA (PEM), imported into Firefox's profile certificate database.
    pub ca_pem: String,
    /// base64(SHA-256(leaf SPKI)), for Chromium's `--ignore-certificate-errors-spki-list`.
    pub spki_sha256_b64: String,
}
