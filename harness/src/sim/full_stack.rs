//! The simulator's full-stack mode: the real webrtc-rs stack (the sans-I/O `rtc` core) in
//! virtual time.
//!
//! Two `RTCPeerConnection`s live in memory: the client (offerer, ICE controlling) and the agent
//! (answerer). Both are audio-only with host candidates on made-up addresses and mDNS off. They
//! run ICE, DTLS, SRTP and RTCP (sender/receiver reports, transport-wide congestion control
//! feedback) against each other, and every datagram between them — STUN, DTLS, SRTP, SRTCP —
//! goes through the profile's impairment core for its direction, exactly as the media path's
//! RTP does: `size = length + 28` (IPv4 + UDP), delivery times from the [`Outcome`], a
//! duplicate delivered twice, a corrupted copy with its bit flipped (SRTP authentication, the
//! STUN integrity check or the DTLS MAC then rejects it).
//!
//! Once a side reports `connected` it sends its direction's encoded frames through
//! `RTCRtpSender::write_rtp`, packetised by [`sender::packetize`] (same SSRC, sequence numbers,
//! timestamps, marker bits and DTX skipping as the media path), frame `i` at its frame time
//! after the connection. What the far side's `poll_read` hands out — decrypted RTP — is
//! recorded at its virtual arrival time and played through the same jitter buffer and decoder
//! as the media path ([`receiver::receive`]), then scored by [`score::score`].
//!
//! Virtual time: `base` is one `Instant` taken at the start and virtual now is `base + t`. The
//! loop wakes at the earliest of the next delivery, either connection's `poll_timeout` and the
//! next media send time, and jumps there; it never sleeps and never reads the clock for
//! protocol time (the wall clock is read only to report how long the run took).
//!
//! Determinism: DTLS keys and randoms differ per run, so encrypted bytes differ, but sizes and
//! therefore timing do not. ICE credentials are fixed, and each side's ECDSA P-256 certificate
//! has a fixed serial number and fixed-length (70-byte) signatures: with rtc's default
//! certificate the DER signatures in the certificate, ServerKeyExchange and CertificateVerify
//! are 70–72 bytes (and the serial, a hash, occasionally a byte shorter), so the DTLS flights'
//! sizes — and with them a rate limiter's timing and a corruption's bit index — would vary
//! from run to run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::{Bytes, BytesMut};
use rtc::crypto::{CryptoError, PublicKey, SecretVec, SignatureScheme, SigningKey};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{configure_rtcp_reports, configure_twcc};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;
use rtc::statistics::report::RTCStatsReportEntry;
use serde::{Deserialize, Serialize};

use jitterbug_core::codec::{Codec, CodecSettings};
use jitterbug_core::identity::BackendKind;
use jitterbug_core::impairment::Direction;
use jitterbug_core::path::{
    Kind, KindCounter, KindCounters, Output, PacketPath, PerDirection, Policy, classify, rtp_id,
};
use jitterbug_core::results::{DirectionResult, NetworkCounters, ScenarioResult, Status};
use jitterbug_core::rng::{Stream, StreamId};
use jitterbug_core::rtp::RtpHeader;
use jitterbug_core::time::Timestamp;

use super::encode_cache::EncodeCache;
use super::receiver::Arrival;
use super::sender::{self, SentPacket};
use super::{Played, TAIL};
use crate::scenario::Scenario;

/// The client's host candidate (CGNAT space, as a mobile user's would be).
pub const CLIENT_ADDR: &str = "100.64.0.2:50000";
/// The agent's host candidate (benchmarking space, RFC 2544).
pub const AGENT_ADDR: &str = "198.18.0.2:40000";

/// Stack settings of a full-stack run. The defaults are those of [`run_full_stack`].
#[derive(Debug, Clone, PartialEq)]
pub struct FullStackConfig {
    /// Pacing of ICE connectivity checks while connecting: rtc's default, fixed (nothing in
    /// rtc randomises it).
    pub ice_check_interval: Duration,
    /// A selected pair that received no STUN for this long is `disconnected` (rtc does not count
    /// media). rtc's default is 5 s, with which the 3 s outage of `blackout-3s` never shows; 2 s
    /// is closer to libwebrtc, whose connections stop "receiving" after 2.5 s.
    pub ice_disconnected_timeout: Duration,
    /// After `disconnected`, this much longer without traffic is `failed` (rtc's default).
    pub ice_failed_timeout: Duration,
    /// Consent/keepalive binding requests on the selected pair. rtc refreshes a pair's liveness
    /// from STUN only (media does not count) and re-evaluates it at this same period, so with
    /// 500 ms and a 2 s timeout any outage longer than about 2.5 s shows as `disconnected`.
    pub ice_keepalive_interval: Duration,
    /// A side not connected by then gives up (its media is never sent).
    pub connect_deadline: Duration,
    /// Call `handle_timeout(now)` right after every delivered datagram, not only when
    /// `poll_timeout` is due. rtc queues the DTLS ClientHello when ICE selects a pair but only
    /// flushes it from `handle_timeout`, while `poll_timeout` does not ask for an immediate
    /// wake-up, so a loop that follows the sans-I/O contract strictly (`false`) starts DTLS one
    /// ICE timer tick late (+200 ms of setup). `true` is what a driver that services timers
    /// after each read does, and what the webrtc crate's measured setup times imply.
    pub eager_timeouts: bool,
    /// How long ICE waits before accepting a relayed pair; `None` keeps rtc's default (2 s,
    /// in case a direct pair turns up). A relay-only client has nothing better to wait for.
    pub relay_acceptance_min_wait: Option<Duration>,
}

impl Default for FullStackConfig {
    fn default() -> Self {
        FullStackConfig {
            ice_check_interval: Duration::from_millis(200),
            ice_disconnected_timeout: Duration::from_secs(2),
            ice_failed_timeout: Duration::from_secs(25),
            ice_keepalive_interval: Duration::from_millis(500),
            connect_deadline: Duration::from_secs(30),
            eager_timeouts: true,
            relay_acceptance_min_wait: None,
        }
    }
}

/// Datagrams by kind (RFC 7983 first-byte demultiplexing; RTCP told from RTP by RFC 5761),
/// as the impairment saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatagramKinds {
    pub stun: KindCounter,
    pub dtls: KindCounter,
    pub srtp: KindCounter,
    pub srtcp: KindCounter,
    pub other: KindCounter,
}

impl From<KindCounters> for DatagramKinds {
    fn from(k: KindCounters) -> Self {
        DatagramKinds {
            stun: k.get(Kind::Stun),
            dtls: k.get(Kind::Dtls),
            srtp: k.get(Kind::Rtp),
            srtcp: k.get(Kind::Rtcp),
            other: k.get(Kind::Other),
        }
    }
}

/// The media each side's stack handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaCounters {
    /// RTP packets the sender had to send (DTX frames already skipped).
    pub rtp_to_send: u64,
    /// Accepted by `write_rtp`.
    pub rtp_written: u64,
    /// Refused by `write_rtp` (for instance once the connection failed).
    pub write_errors: u64,
    /// Decrypted RTP packets the receiver's stack handed to the application.
    pub rtp_received: u64,
    /// Datagrams the receiving stack's `handle_read` returned an error for.
    pub read_errors: u64,
}

/// What the stack did, besides the audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullStackStats {
    /// From the offer's creation (t = 0; signalling is instantaneous) until both sides reported
    /// `connected`; `None` if one never did.
    pub setup_ms: Option<f64>,
    pub client_connected_ms: Option<f64>,
    pub agent_connected_ms: Option<f64>,
    /// ICE connection state changes: (virtual ms, `client`/`agent`, state).
    pub ice_state_changes: Vec<(f64, String, String)>,
    /// Peer connection state changes, same shape.
    pub connection_state_changes: Vec<(f64, String, String)>,
    /// Mean size of the SRTP datagrams sent minus the plain RTP packet (12-byte header +
    /// payload) each carries: header extensions (transport-cc) plus the authentication tag.
    /// `None` when no media was sent.
    pub srtp_overhead_bytes_per_packet: Option<f64>,
    pub datagrams: PerDirection<DatagramKinds>,
    pub media: PerDirection<MediaCounters>,
    /// The selected candidate pair when both sides had connected: `client (type) <-> agent (type)`.
    pub candidate_pair: Option<String>,
    pub dtls_cipher: Option<String>,
    pub srtp_cipher: Option<String>,
    /// Virtual time when the loop stopped, ms.
    pub end_ms: f64,
    /// Times the loop was woken at the same instant without progress and had to step 1 ms
    /// ahead (a connection whose `poll_timeout` stays in the past); 0 when rtc behaves.
    pub stalls: u64,
}

/// Wall-clock cost of a run (not part of the results: it differs between runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct WallTimes {
    /// Building the connections and running the stack in virtual time (includes encoding,
    /// unless the frames were cached).
    pub stack: Duration,
    /// Jitter buffers and decoders of both directions.
    pub decode: Duration,
    /// Alignment, STOI and E-model of both directions.
    pub score: Duration,
}

/// What a full-stack scenario produced.
pub struct FullStackOutput {
    pub result: ScenarioResult,
    pub full_stack: FullStackStats,
    /// What the agent heard (uplink) and what the user heard (downlink), 48 kHz.
    pub uplink_audio: Vec<i16>,
    pub downlink_audio: Vec<i16>,
    pub wall: WallTimes,
}

/// The scenario id of a full-stack run: `profile/preset/clip/native/sim-full-stack/seed`.
pub fn scenario_id(s: &Scenario<'_>) -> String {
    s.id(BackendKind::SimFullStack)
}

/// Runs one scenario over the full stack with the default [`FullStackConfig`].
pub fn run_full_stack(s: &Scenario<'_>, cache: &EncodeCache) -> FullStackOutput {
    run_full_stack_with(s, cache, &FullStackConfig::default())
}

/// Runs one scenario over the full stack. Failures (the stack refusing to start, a codec or
/// metric error, a side that never connected) become `status: error`; the stack's statistics
/// are kept whatever happened.
pub fn run_full_stack_with(s: &Scenario<'_>, cache: &EncodeCache, cfg: &FullStackConfig) -> FullStackOutput {
    let s = &Played::of(s);
    let mut result = s.blank_result(BackendKind::SimFullStack);
    let mut wall = WallTimes::default();
    let started = Instant::now();
    let run = simulate(s, cache, cfg);
    wall.stack = started.elapsed();
    let (stats, directions) = match run {
        Ok(r) => r,
        Err(e) => {
            result.status = Status::Error { reason: format!("full stack: {e:#}").to_lowercase() };
            return FullStackOutput {
                result,
                full_stack: FullStackStats::empty(),
                uplink_audio: Vec::new(),
                downlink_audio: Vec::new(),
                wall,
            };
        }
    };
    if stats.setup_ms.is_none() {
        result.status = Status::Error { reason: never_connected(&stats, cfg) };
        return FullStackOutput {
            result,
            full_stack: stats,
            uplink_audio: Vec::new(),
            downlink_audio: Vec::new(),
            wall,
        };
    }
    let mut audio = [Vec::new(), Vec::new()];
    for (k, d) in directions.into_iter().enumerate() {
        match play_and_score(s, d, &mut wall) {
            Ok((r, pcm)) => {
                audio[k] = pcm;
                match k {
                    0 => result.uplink = Some(r),
                    _ => result.downlink = Some(r),
                }
            }
            Err(e) => {
                let dir = if k == 0 { "uplink" } else { "downlink" };
                result.status = Status::Error { reason: format!("{dir}: {e:#}").to_lowercase() };
                result.uplink = None;
                result.downlink = None;
                break;
            }
        }
    }
    let [uplink_audio, downlink_audio] = audio;
    FullStackOutput { result, full_stack: stats, uplink_audio, downlink_audio, wall }
}

/// Why a call never came up: each side's last ICE and connection state.
fn never_connected(st: &FullStackStats, cfg: &FullStackConfig) -> String {
    let last = |changes: &[(f64, String, String)], side: &str| {
        changes.iter().rev().find(|c| c.1 == side).map_or("new".to_string(), |c| c.2.clone())
    };
    let sides: Vec<String> = SIDE_NAMES
        .iter()
        .map(|side| {
            format!(
                "{side} ice {}, connection {}",
                last(&st.ice_state_changes, side),
                last(&st.connection_state_changes, side)
            )
        })
        .collect();
    format!("full stack: never connected within {} s ({})", cfg.connect_deadline.as_secs(), sides.join("; "))
}

impl FullStackStats {
    fn empty() -> Self {
        FullStackStats {
            setup_ms: None,
            client_connected_ms: None,
            agent_connected_ms: None,
            ice_state_changes: Vec::new(),
            connection_state_changes: Vec::new(),
            srtp_overhead_bytes_per_packet: None,
            datagrams: PerDirection::default(),
            media: PerDirection::default(),
            candidate_pair: None,
            dtls_cipher: None,
            srtp_cipher: None,
            end_ms: 0.0,
            stalls: 0,
        }
    }
}

/// One direction's media as the stack carried it, with times relative to the sender's media
/// clock (its first frame is due one frame after the sender connected), as in the media path.
struct DirectionRun<'a> {
    spec: &'a jitterbug_core::profile::DirectionSpec,
    sent: Vec<SentPacket>,
    arrivals: Vec<Arrival>,
    network: NetworkCounters,
}

fn play_and_score(
    s: &Played<'_>,
    d: DirectionRun<'_>,
    wall: &mut WallTimes,
) -> anyhow::Result<(DirectionResult, Vec<i16>)> {
    let t0 = Instant::now();
    let received = super::play(s, &d.sent, &d.arrivals)?;
    let t1 = Instant::now();
    wall.decode += t1 - t0;
    let result = super::score_direction(s, d.spec, &received, d.network)?;
    wall.score += t1.elapsed();
    Ok((result, received.pcm))
}

pub(crate) const CLIENT: usize = 0;
const AGENT: usize = 1;
const SIDE_NAMES: [&str; 2] = ["client", "agent"];
/// The direction a side's datagrams travel in.
const SIDE_DIRECTIONS: [Direction; 2] = [Direction::Uplink, Direction::Downlink];

struct Peer {
    pc: RTCPeerConnection,
    addr: SocketAddr,
    sender: RTCRtpSenderId,
    /// This side's media, times relative to its media clock.
    media: Vec<SentPacket>,
    next: usize,
    /// Negotiated payload type, known once connected.
    payload_type: Option<u8>,
    connected_at: Option<Timestamp>,
    /// Connection failed or never came up: no more media from this side.
    gave_up: bool,
    /// RTP received from the other side: absolute virtual arrival time, packet.
    received: Vec<(Timestamp, Vec<u8>)>,
    counters: MediaCounters,
}

struct Sim {
    base: Instant,
    t: Timestamp,
    peers: [Peer; 2],
    /// Every datagram between the two sides; tagged with the receiving side.
    path: PacketPath<usize>,
    plain_sizes: HashMap<(u32, u16), usize>,
    overhead_sum: u64,
    overhead_n: u64,
    ice_changes: Vec<(f64, String, String)>,
    pc_changes: Vec<(f64, String, String)>,
    candidate_pair: Option<String>,
    dtls_cipher: Option<String>,
    srtp_cipher: Option<String>,
    /// Set when both sides have connected: read their stats after the current step.
    want_pair: bool,
    eager_timeouts: bool,
}

fn ms(t: Timestamp) -> f64 {
    t.as_nanos() as f64 / 1e6
}

impl Sim {
    fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.t.as_nanos())
    }

    fn virtual_time(&self, i: Instant) -> Timestamp {
        Timestamp::from_nanos(i.saturating_duration_since(self.base).as_nanos() as u64)
    }

    /// Drains everything side `i` has to say: datagrams, events, received messages.
    fn pump(&mut self, i: usize) {
        loop {
            let mut progressed = false;
            while let Some(w) = self.peers[i].pc.poll_write() {
                progressed = true;
                self.send(i, w);
            }
            while let Some(e) = self.peers[i].pc.poll_event() {
                progressed = true;
                self.on_event(i, e);
            }
            while let Some(m) = self.peers[i].pc.poll_read() {
                progressed = true;
                self.on_read(i, m);
            }
            if !progressed {
                break;
            }
        }
    }

    /// Puts a datagram from side `i` on the wire: through its direction's impairment.
    fn send(&mut self, i: usize, w: TaggedBytesMut) {
        let to = 1 - i;
        if w.transport.peer_addr != self.peers[to].addr {
            return; // addressed to nobody this simulation has
        }
        let bytes = w.message.to_vec();
        if classify(&bytes) == Kind::Rtp
            && let Some(id) = rtp_id(&bytes)
            && let Some(&plain) = self.plain_sizes.get(&id)
        {
            self.overhead_sum += (bytes.len() - plain.min(bytes.len())) as u64;
            self.overhead_n += 1;
        }
        self.path.handle_input(self.t, SIDE_DIRECTIONS[i], bytes, to);
    }

    fn on_event(&mut self, i: usize, e: RTCPeerConnectionEvent) {
        let t = self.t;
        match e {
            RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(state) => {
                self.ice_changes.push((ms(t), SIDE_NAMES[i].into(), state.to_string()));
            }
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                self.pc_changes.push((ms(t), SIDE_NAMES[i].into(), state.to_string()));
                let p = &mut self.peers[i];
                match state {
                    RTCPeerConnectionState::Connected if p.connected_at.is_none() => {
                        p.connected_at = Some(t);
                        // The payload type the answer settled on (the media path uses the preset's).
                        p.payload_type = p
                            .pc
                            .rtp_sender(p.sender)
                            .and_then(|mut s| s.get_parameters().rtp_parameters.codecs.first().map(|c| c.payload_type));
                        self.want_pair = self.peers.iter().all(|p| p.connected_at.is_some());
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => p.gave_up = true,
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn on_read(&mut self, i: usize, m: TaggedRTCMessage) {
        if let RTCMessage::RtpPacket(_, p) = m.message {
            let at = self.virtual_time(m.now).max(self.t);
            let h = RtpHeader {
                marker: p.header.marker,
                payload_type: p.header.payload_type,
                sequence: p.header.sequence_number,
                timestamp: p.header.timestamp,
                ssrc: p.header.ssrc,
            };
            let peer = &mut self.peers[i];
            peer.counters.rtp_received += 1;
            peer.received.push((at, h.write(&p.payload)));
        }
    }

    /// Delivers every datagram due by now, in arrival order.
    fn deliver_due(&mut self) {
        while let Output::Deliver(d) = self.path.poll_output(self.t) {
            let (to, from) = (d.tag, 1 - d.tag);
            let msg = TaggedBytesMut {
                now: self.base + Duration::from_nanos(d.at.as_nanos()),
                transport: TransportContext {
                    local_addr: self.peers[to].addr,
                    peer_addr: self.peers[from].addr,
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message: BytesMut::from(&d.bytes[..]),
            };
            if self.peers[to].pc.handle_read(msg).is_err() {
                self.peers[to].counters.read_errors += 1;
            }
            self.pump(to);
            if self.eager_timeouts {
                // After the pump: the read's events (a selected pair, say) are handled there.
                let _ = self.peers[to].pc.handle_timeout(self.now());
                self.pump(to);
            }
        }
    }

    fn handle_timeouts(&mut self) {
        let now = self.now();
        for i in [CLIENT, AGENT] {
            if self.peers[i].pc.poll_timeout().is_some_and(|d| d <= now) {
                // An error here is the stack's own business (it also reports it as state).
                let _ = self.peers[i].pc.handle_timeout(now);
                self.pump(i);
            }
        }
    }

    /// Virtual time of side `i`'s next media packet, if it is sending.
    fn next_media(&self, i: usize) -> Option<Timestamp> {
        let p = &self.peers[i];
        let start = p.connected_at?;
        if p.gave_up {
            return None;
        }
        p.media.get(p.next).map(|m| start + (m.at - Timestamp::ZERO))
    }

    fn send_media_due(&mut self) {
        let now = self.now();
        for i in [CLIENT, AGENT] {
            let mut wrote = false;
            while self.next_media(i).is_some_and(|at| at <= self.t) {
                let p = &mut self.peers[i];
                let bytes = &p.media[p.next].bytes;
                p.next += 1;
                let Ok((h, payload)) = RtpHeader::parse(bytes) else { continue };
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::Header {
                        version: 2,
                        marker: h.marker,
                        payload_type: p.payload_type.unwrap_or(h.payload_type),
                        sequence_number: h.sequence,
                        timestamp: h.timestamp,
                        ssrc: h.ssrc,
                        ..Default::default()
                    },
                    payload: Bytes::copy_from_slice(payload),
                };
                let written = p.pc.rtp_sender(p.sender).map(|mut s| s.write_rtp(now, packet));
                match written {
                    Some(Ok(())) => p.counters.rtp_written += 1,
                    _ => p.counters.write_errors += 1,
                }
                wrote = true;
            }
            if wrote {
                self.pump(i);
            }
        }
    }

    fn next_wake(&mut self) -> Option<Timestamp> {
        let mut next = self.path.next_due();
        let mut consider = |t: Option<Timestamp>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for i in [CLIENT, AGENT] {
            let timeout = self.peers[i].pc.poll_timeout();
            consider(timeout.map(|d| self.virtual_time(d)));
            consider(self.next_media(i));
        }
        next
    }

    /// Records the selected pair (and the ciphers) once both sides are connected.
    fn read_selected_pair(&mut self) {
        let now = self.now();
        let [client, agent] = [CLIENT, AGENT].map(|i| self.peers[i].pc.get_stats(now, StatsSelector::None));
        if let Some(transport) = client.transport() {
            self.dtls_cipher = Some(transport.dtls_cipher.clone()).filter(|c| !c.is_empty());
            self.srtp_cipher = Some(transport.srtp_cipher.clone()).filter(|c| !c.is_empty());
        }
        // Each side's own end of its selected pair: rtc leaves remote candidates that came in
        // the SDP out of the stats, so the far end is read from the far side.
        if let (Some(local), Some(remote)) = (selected_local_candidate(&client), selected_local_candidate(&agent)) {
            self.candidate_pair = Some(format!("{local} <-> {remote}"));
        }
    }
}

/// `address:port (type)` of the local candidate of the selected pair in a stats report.
pub(crate) fn selected_local_candidate(report: &rtc::statistics::report::RTCStatsReport) -> Option<String> {
    let transport = report.transport()?;
    let Some(RTCStatsReportEntry::IceCandidatePair(pair)) = report.get(&transport.selected_candidate_pair_id) else {
        return None;
    };
    // rtc names candidate entries `RTCLocalIceCandidate_<id>` but fills the pair's
    // `local_candidate_id` with the bare `<id>`.
    let id = &pair.local_candidate_id;
    match report.get(id).or_else(|| report.get(&format!("RTCLocalIceCandidate_{id}"))) {
        Some(RTCStatsReportEntry::LocalCandidate(c)) => {
            Some(format!("{}:{} ({})", c.address.as_deref().unwrap_or("?"), c.port, c.candidate_type))
        }
        _ => None,
    }
}

pub(crate) fn codec_parameters(c: &CodecSettings) -> RTCRtpCodecParameters {
    let (mime_type, clock_rate, channels, fmtp) = match c.codec {
        // As browsers offer it; `usedtx` only tells the far side what to expect.
        Codec::Opus => (
            MIME_TYPE_OPUS,
            48_000,
            2,
            if c.dtx { "minptime=10;useinbandfec=1;usedtx=1" } else { "minptime=10;useinbandfec=1" },
        ),
        Codec::Pcmu => (MIME_TYPE_PCMU, 8_000, 0, ""),
        Codec::Pcma => (MIME_TYPE_PCMA, 8_000, 0, ""),
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime_type.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: c.payload_type(),
    }
}

/// An ECDSA P-256 signature in DER whose integers both take 32 bytes: 70 bytes in all.
const FIXED_SIGNATURE_LEN: usize = 70;

/// A signing key whose ECDSA signatures always have the same length: it signs again (with a
/// fresh nonce; every signature is as valid as the first) until the DER encoding is
/// [`FIXED_SIGNATURE_LEN`] bytes, which about one in four is. DTLS flights then have the same
/// sizes on every run (see the module documentation).
struct FixedLengthSignatures(Arc<dyn SigningKey>);

impl SigningKey for FixedLengthSignatures {
    fn supports(&self, scheme: SignatureScheme) -> bool {
        self.0.supports(scheme)
    }

    fn public_key(&self) -> PublicKey<'_> {
        self.0.public_key()
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        // 256 misses in a row has a probability of about 1e-32.
        for _ in 0..256 {
            let signature = self.0.sign(scheme, message)?;
            if signature.len() == FIXED_SIGNATURE_LEN {
                return Ok(signature);
            }
        }
        self.0.sign(scheme, message)
    }

    fn to_pkcs8_der(&self) -> Result<Option<SecretVec>, CryptoError> {
        self.0.to_pkcs8_der()
    }
}

/// A self-signed ECDSA P-256 certificate (what browsers use) with a fixed serial number and
/// fixed-length signatures. (Ed25519 signatures have a fixed length by construction, but rtc's
/// DTLS server cannot use an Ed25519 certificate: it keeps an ECDHE_ECDSA suite only for
/// ECDSA signature schemes and fails with "no ciphersuites satisfy this config".)
fn certificate(side: usize) -> anyhow::Result<RTCCertificate> {
    let provider = rtc::crypto::default_provider().map_err(|e| anyhow!("crypto provider: {e}"))?;
    let scheme = SignatureScheme::EcdsaP256Sha256;
    let key = provider.crypto().generate_signing_key(scheme).map_err(|e| anyhow!("key generation: {e}"))?;
    let mut params = CertificateParams::new(vec![format!("jitterbug-{}.invalid", SIDE_NAMES[side])])?;
    params.serial_number = Some((0x4a42_0000_0000_0001_u64 + side as u64).into());
    Ok(RTCCertificate::generate_from_signing_key(params, scheme, Arc::new(FixedLengthSignatures(key)))?)
}

pub(crate) fn build_peer(
    side: usize,
    codec: &RTCRtpCodecParameters,
    cfg: &FullStackConfig,
    base: Instant,
) -> anyhow::Result<RTCPeerConnection> {
    let mut me = MediaEngine::default();
    me.register_codec(codec.clone(), RtpCodecKind::Audio)?;
    let registry = configure_twcc(configure_rtcp_reports(Registry::new()), &mut me)?;
    // Fixed credentials: random ones would be harmless for timing (fixed length), but fixed
    // ones make every STUN message the same across runs.
    let (ufrag, pwd) = match side {
        CLIENT => ("jbClient", "jitterbugClientIcePassword01"),
        _ => ("jbAgent0", "jitterbugAgentIcePassword012"),
    };
    let mut settings = SettingEngineBuilder::new();
    if let Some(wait) = cfg.relay_acceptance_min_wait {
        settings = settings.with_relay_acceptance_min_wait(Some(wait));
    }
    let settings = settings
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_ice_credentials(ufrag.into(), pwd.into())
        .with_ice_connection_attempts(Some(cfg.ice_check_interval), None)
        .with_ice_timeouts(
            Some(cfg.ice_disconnected_timeout),
            Some(cfg.ice_failed_timeout),
            Some(cfg.ice_keepalive_interval),
        )
        .build();
    let config = RTCConfigurationBuilder::new().with_certificates(vec![certificate(side)?]).build();
    Ok(RTCPeerConnectionBuilder::new()
        .with_configuration(config)
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build(base)?)
}

pub(crate) fn add_host_candidate(pc: &mut RTCPeerConnection, addr: SocketAddr) -> anyhow::Result<()> {
    let c = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    pc.add_local_candidate(RTCIceCandidate::from(&c).to_json()?)?;
    // End of gathering: there is nothing else to gather.
    pc.add_local_candidate(RTCIceCandidateInit::default())?;
    Ok(())
}

pub(crate) fn add_audio_track(
    pc: &mut RTCPeerConnection,
    side: usize,
    ssrc: u32,
    codec: &RTCRtpCodecParameters,
) -> anyhow::Result<RTCRtpSenderId> {
    let name = SIDE_NAMES[side];
    let track = MediaStreamTrack::new(
        format!("jitterbug-{name}"),
        format!("{name}-audio"),
        format!("{name}-audio"),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: codec.rtp_codec.clone(),
            active: true,
            ..Default::default()
        }],
    );
    Ok(pc.add_track(track)?)
}

/// Runs both stacks until the media of both directions is through.
fn simulate<'a>(
    s: &'a Played<'_>,
    cache: &EncodeCache,
    cfg: &FullStackConfig,
) -> anyhow::Result<(FullStackStats, [DirectionRun<'a>; 2])> {
    let codec = &s.preset.codec;
    let frame = Duration::from_millis(u64::from(codec.frame_ms.millis()));
    let tail_frames = TAIL.as_millis().div_ceil(frame.as_millis()) as usize;
    let frames = cache.get(&s.clip, codec, tail_frames)?;
    // Labels as in the media path, so SSRC, sequence numbers and timestamps are the same.
    let labels = [1, 2];
    let media = labels.map(|label| sender::packetize(&frames, codec, s.seed, label));
    let ssrcs = labels.map(|label| Stream::new(s.seed, label, StreamId::Media).next_u64() as u32);
    let addrs: [SocketAddr; 2] = [CLIENT_ADDR.parse()?, AGENT_ADDR.parse()?];
    let params = codec_parameters(codec);

    // The virtual clock's origin: the only clock read that reaches the stack.
    let base = Instant::now();
    let mut client = build_peer(CLIENT, &params, cfg, base).context("client connection")?;
    let mut agent = build_peer(AGENT, &params, cfg, base).context("agent connection")?;
    let client_sender = add_audio_track(&mut client, CLIENT, ssrcs[CLIENT], &params)?;
    add_host_candidate(&mut client, addrs[CLIENT])?;
    add_host_candidate(&mut agent, addrs[AGENT])?;
    // Signalling is out of band and instantaneous, at t = 0.
    let offer = client.create_offer(None)?;
    client.set_local_description(base, offer.clone())?;
    agent.set_remote_description(base, offer)?;
    let agent_sender = add_audio_track(&mut agent, AGENT, ssrcs[AGENT], &params)?;
    let answer = agent.create_answer(None)?;
    agent.set_local_description(base, answer.clone())?;
    client.set_remote_description(base, answer)?;

    let mut plain_sizes = HashMap::new();
    for (k, m) in media.iter().enumerate() {
        for p in m {
            if let Ok((h, _)) = RtpHeader::parse(&p.bytes) {
                plain_sizes.insert((h.ssrc, h.sequence), p.bytes.len());
                debug_assert_eq!(h.ssrc, ssrcs[k]);
            }
        }
    }
    let [client_media, agent_media] = media;
    let peer = |pc, addr, sender, media: Vec<SentPacket>| Peer {
        pc,
        addr,
        sender,
        counters: MediaCounters { rtp_to_send: media.len() as u64, ..Default::default() },
        media,
        next: 0,
        payload_type: None,
        connected_at: None,
        gave_up: false,
        received: Vec::new(),
    };
    let mut sim = Sim {
        base,
        t: Timestamp::ZERO,
        peers: [
            peer(client, addrs[CLIENT], client_sender, client_media),
            peer(agent, addrs[AGENT], agent_sender, agent_media),
        ],
        path: PacketPath::new(s.profile, s.seed, Policy::EveryDatagram),
        plain_sizes,
        overhead_sum: 0,
        overhead_n: 0,
        ice_changes: Vec::new(),
        pc_changes: Vec::new(),
        candidate_pair: None,
        dtls_cipher: None,
        srtp_cipher: None,
        want_pair: false,
        eager_timeouts: cfg.eager_timeouts,
    };
    sim.pump(CLIENT);
    sim.pump(AGENT);

    let deadline = Timestamp::ZERO + cfg.connect_deadline;
    let media_len = frame * (frames.len() as u32 + 1);
    // However the network behaves, stop once everything could have happened.
    let hard_end = deadline + media_len + Duration::from_secs(120);
    let mut stalls = 0u64;
    let mut same_instant = 0u32;
    loop {
        sim.deliver_due();
        sim.handle_timeouts();
        sim.send_media_due();
        if sim.want_pair {
            sim.want_pair = false;
            sim.read_selected_pair();
        }
        for p in &mut sim.peers {
            if p.connected_at.is_none() && sim.t >= deadline {
                p.gave_up = true;
            }
        }
        let media_done = sim.peers.iter().all(|p| p.gave_up || (p.connected_at.is_some() && p.next >= p.media.len()));
        if (media_done && sim.path.in_flight(Kind::Rtp) == 0) || sim.t >= hard_end {
            break;
        }
        let next = sim.next_wake().unwrap_or(hard_end).min(hard_end);
        if next > sim.t {
            sim.t = next;
            same_instant = 0;
        } else {
            same_instant += 1;
            if same_instant > 1000 {
                // Something keeps asking to be woken in the past without making progress.
                stalls += 1;
                same_instant = 0;
                sim.t = sim.t + Duration::from_millis(1);
            }
        }
    }

    let connected = [sim.peers[CLIENT].connected_at, sim.peers[AGENT].connected_at];
    let path = sim.path.report();
    let stats = FullStackStats {
        setup_ms: connected[CLIENT].zip(connected[AGENT]).map(|(a, b)| ms(a.max(b))),
        client_connected_ms: connected[CLIENT].map(ms),
        agent_connected_ms: connected[AGENT].map(ms),
        ice_state_changes: std::mem::take(&mut sim.ice_changes),
        connection_state_changes: std::mem::take(&mut sim.pc_changes),
        srtp_overhead_bytes_per_packet: (sim.overhead_n > 0).then(|| sim.overhead_sum as f64 / sim.overhead_n as f64),
        datagrams: path.kinds.map(DatagramKinds::from),
        // Received counts belong to the direction they travelled.
        media: PerDirection {
            uplink: MediaCounters {
                rtp_received: sim.peers[AGENT].counters.rtp_received,
                read_errors: sim.peers[AGENT].counters.read_errors,
                ..sim.peers[CLIENT].counters
            },
            downlink: MediaCounters {
                rtp_received: sim.peers[CLIENT].counters.rtp_received,
                read_errors: sim.peers[CLIENT].counters.read_errors,
                ..sim.peers[AGENT].counters
            },
        },
        candidate_pair: sim.candidate_pair.take(),
        dtls_cipher: sim.dtls_cipher.take(),
        srtp_cipher: sim.srtp_cipher.take(),
        end_ms: ms(sim.t),
        stalls,
    };
    let [client, agent] = sim.peers;
    let up = direction_run(&s.profile.uplink, client.connected_at, client.media, agent.received, path.rtp.uplink);
    let down = direction_run(&s.profile.downlink, agent.connected_at, agent.media, client.received, path.rtp.downlink);
    Ok((stats, [up, down]))
}

/// One direction's record, with arrival times moved onto the sender's media clock: the
/// receiver's audio clock starts with it, as in the media path.
fn direction_run(
    spec: &jitterbug_core::profile::DirectionSpec,
    connected_at: Option<Timestamp>,
    sent: Vec<SentPacket>,
    received: Vec<(Timestamp, Vec<u8>)>,
    network: NetworkCounters,
) -> DirectionRun<'_> {
    let start = connected_at.unwrap_or_default();
    let arrivals = received
        .into_iter()
        .enumerate()
        .map(|(index, (at, bytes))| Arrival {
            at: Timestamp::ZERO + at.saturating_since(start),
            bytes,
            index,
            corrupted: false,
        })
        .collect();
    DirectionRun { spec, sent, arrivals, network }
}
