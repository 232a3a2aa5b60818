//! The native client: the webrtc-rs sans-I/O `rtc` core (the same peer the `--full-stack`
//! simulator drives in virtual time) behind a tokio UDP socket and the wall clock.
//!
//! Being our own I/O loop is what makes it a prompt TURN client: it owns the `rtc` TURN
//! client too, and flushes relay writes the moment the peer connection produces them and
//! feeds relayed reads straight back (the stock async driver delays both until its next
//! wake-up: webrtc-rs defect 1 in the shared notes).
//!
//! It sends prepared RTP (the same packets, SSRC and sequence numbers the simulator sends for
//! the seed) at their media times after the connection comes up, and records every RTP packet
//! it receives with its arrival time; playout through the jitter buffer happens afterwards
//! from those times (the buffer is a sans-I/O core: replaying the arrival times gives what a
//! live playout would have).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::{Bytes, BytesMut};
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateRelayConfig, RTCIceCandidate};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;
use rtc::turn::client::{Client as TurnClient, ClientConfig as TurnClientConfig, Event as TurnEvent};
use serde::Serialize;
use tokio::net::UdpSocket;

use jitterbug_core::rtp::RtpHeader;

use crate::sim::full_stack::{self, FullStackConfig};
use crate::sim::sender::SentPacket;

/// A TURN server and its long-term credentials.
#[derive(Debug, Clone)]
pub struct TurnServer {
    pub addr: SocketAddr,
    pub username: String,
    pub password: String,
}

/// What the client sends and how it connects.
pub struct ClientPlan {
    pub codec: jitterbug_core::codec::CodecSettings,
    pub ssrc: u32,
    /// RTP packets with send times relative to the media start (the connection).
    pub media: Vec<SentPacket>,
    /// Keep listening this long after the last packet was sent.
    pub tail: Duration,
    pub turn: Option<TurnServer>,
    pub bind: SocketAddr,
    pub connect_deadline: Duration,
}

/// What the client saw.
#[derive(Debug, Default, Serialize)]
pub struct ClientOutcome {
    /// Offer created → connected, ms.
    pub setup_ms: Option<f64>,
    pub selected_local_candidate_type: Option<String>,
    pub candidate_pair: Option<String>,
    pub connection_states: Vec<(f64, String)>,
    /// Times the connection left `connected` after reaching it.
    pub disconnects: u64,
    pub rtp_sent: u64,
    pub rtp_received: u64,
    /// TURN allocation time, ms, when relayed.
    pub turn_allocate_ms: Option<f64>,
    #[serde(skip)]
    pub media_start: Option<Instant>,
    #[serde(skip)]
    pub received: Vec<(Instant, Vec<u8>)>,
    /// Sequence number and send time of every RTP packet written.
    #[serde(skip)]
    pub sent: Vec<(u16, Instant)>,
}

/// Relayed transport through a TURN allocation.
struct Turn {
    client: TurnClient,
    server: SocketAddr,
    relayed: SocketAddr,
    /// Packets waiting for a permission to their peer.
    waiting: HashMap<SocketAddr, VecDeque<BytesMut>>,
}

/// A connected-to-be client: signalling happens between [`NativeClient::offer`] and
/// [`NativeClient::run`].
pub struct NativeClient {
    pc: RTCPeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    sender: RTCRtpSenderId,
    turn: Option<Turn>,
    plan: ClientPlan,
    created: Instant,
    outcome: ClientOutcome,
}

fn tagged(now: Instant, local: SocketAddr, peer: SocketAddr, message: BytesMut) -> TaggedBytesMut {
    TaggedBytesMut {
        now,
        transport: TransportContext {
            local_addr: local,
            peer_addr: peer,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        },
        message,
    }
}

fn ms_since(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1e3
}

impl NativeClient {
    /// Binds, gathers (a host candidate, or a relay candidate from a TURN allocation) and
    /// prepares the peer connection. Returns the client and its offer SDP (non-trickle).
    pub async fn offer(plan: ClientPlan) -> anyhow::Result<(NativeClient, String)> {
        let created = Instant::now();
        let socket = UdpSocket::bind(plan.bind).await.with_context(|| format!("binding {}", plan.bind))?;
        let local = socket.local_addr()?;
        // Relay-only when relayed: no direct pair can turn up, so accept the relay at once.
        let cfg = FullStackConfig {
            relay_acceptance_min_wait: plan.turn.as_ref().map(|_| Duration::ZERO),
            ..FullStackConfig::default()
        };
        let params = full_stack::codec_parameters(&plan.codec);
        let mut pc = full_stack::build_peer(full_stack::CLIENT, &params, &cfg, created).context("client peer")?;
        let sender = full_stack::add_audio_track(&mut pc, full_stack::CLIENT, plan.ssrc, &params)?;
        let mut outcome = ClientOutcome::default();
        let turn = match &plan.turn {
            None => {
                full_stack::add_host_candidate(&mut pc, local)?;
                None
            }
            Some(server) => {
                let turn = allocate(&socket, local, server).await?;
                outcome.turn_allocate_ms = Some(ms_since(created, Instant::now()));
                let candidate = CandidateRelayConfig {
                    base_config: CandidateConfig {
                        network: "udp".to_owned(),
                        address: turn.relayed.ip().to_string(),
                        port: turn.relayed.port(),
                        component: 1,
                        ..Default::default()
                    },
                    rel_addr: local.ip().to_string(),
                    rel_port: local.port(),
                    url: Some(format!("turn:{}?transport=udp", server.addr)),
                }
                .new_candidate_relay()?;
                pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
                pc.add_local_candidate(rtc::peer_connection::transport::RTCIceCandidateInit::default())?;
                Some(turn)
            }
        };
        let offer = pc.create_offer(None)?;
        pc.set_local_description(Instant::now(), offer)?;
        let sdp = pc.local_description().map(|d| d.sdp.clone()).ok_or_else(|| anyhow!("no local description"))?;
        Ok((NativeClient { pc, socket, local, sender, turn, plan, created, outcome }, sdp))
    }

    /// Applies the answer and runs the call: connect, send the media in real time, record
    /// what arrives, until the media and the tail are over (or the connection fails).
    pub async fn run(mut self, answer_sdp: &str) -> anyhow::Result<ClientOutcome> {
        let answer = rtc::peer_connection::sdp::RTCSessionDescription::answer(answer_sdp.to_owned())
            .context("parsing the agent's answer")?;
        self.pc.set_remote_description(Instant::now(), answer).context("applying the agent's answer")?;
        self.pump(Instant::now()).await;
        let deadline = self.created + self.plan.connect_deadline;
        let mut next_media = 0usize;
        let mut buf = vec![0u8; 2048];
        let mut payload_type = None;
        loop {
            let now = Instant::now();
            let media_end = self.outcome.media_start.map(|s| {
                s + self.plan.media.last().map_or(Duration::ZERO, |p| Duration::from_nanos(p.at.as_nanos()))
                    + self.plan.tail
            });
            if media_end.is_some_and(|e| now >= e) {
                break;
            }
            if self.outcome.media_start.is_none() && now >= deadline {
                bail!(
                    "not connected after {:?} (states: {:?})",
                    self.plan.connect_deadline,
                    self.outcome.connection_states
                );
            }
            if self.outcome.connection_states.last().is_some_and(|(_, s)| s == "failed" || s == "closed") {
                break;
            }
            // Media due now.
            if let Some(start) = self.outcome.media_start {
                if payload_type.is_none() {
                    payload_type = self
                        .pc
                        .rtp_sender(self.sender)
                        .and_then(|mut s| s.get_parameters().rtp_parameters.codecs.first().map(|c| c.payload_type));
                }
                let mut wrote = false;
                while let Some(p) = self.plan.media.get(next_media) {
                    let at = start + Duration::from_nanos(p.at.as_nanos());
                    if at > now {
                        break;
                    }
                    next_media += 1;
                    let Ok((h, body)) = RtpHeader::parse(&p.bytes) else { continue };
                    let packet = rtc::rtp::Packet {
                        header: rtc::rtp::Header {
                            version: 2,
                            marker: h.marker,
                            payload_type: payload_type.unwrap_or(h.payload_type),
                            sequence_number: h.sequence,
                            timestamp: h.timestamp,
                            ssrc: h.ssrc,
                            ..Default::default()
                        },
                        payload: Bytes::copy_from_slice(body),
                    };
                    if let Some(Ok(())) = self.pc.rtp_sender(self.sender).map(|mut s| s.write_rtp(now, packet)) {
                        self.outcome.rtp_sent += 1;
                        self.outcome.sent.push((h.sequence, now));
                    }
                    wrote = true;
                }
                if wrote {
                    self.pump(now).await;
                }
            }
            let wake = self.next_wake(next_media, deadline, media_end);
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        self.on_datagram(from, BytesMut::from(&buf[..n])).await;
                    }
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
            let now = Instant::now();
            let _ = self.pc.handle_timeout(now);
            if let Some(t) = &mut self.turn {
                let _ = t.client.handle_timeout(now);
            }
            self.pump(now).await;
        }
        self.read_selected_pair();
        let _ = self.pc.close();
        self.pump(Instant::now()).await;
        Ok(self.outcome)
    }

    fn next_wake(&mut self, next_media: usize, deadline: Instant, media_end: Option<Instant>) -> Instant {
        let mut wake = Instant::now() + Duration::from_millis(50);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                wake = wake.min(t);
            }
        };
        consider(self.pc.poll_timeout());
        if let Some(t) = &mut self.turn {
            consider(t.client.poll_timeout());
        }
        consider(
            self.outcome
                .media_start
                .and_then(|s| self.plan.media.get(next_media).map(|p| s + Duration::from_nanos(p.at.as_nanos()))),
        );
        consider(media_end);
        consider(Some(deadline));
        wake
    }

    async fn on_datagram(&mut self, from: SocketAddr, bytes: BytesMut) {
        let now = Instant::now();
        match &mut self.turn {
            Some(t) if from == t.server => {
                let _ = t.client.handle_read(tagged(now, self.local, from, bytes));
            }
            Some(_) => {} // relay-only: nothing else may reach us
            None => {
                let _ = self.pc.handle_read(tagged(now, self.local, from, bytes));
            }
        }
        // Serve the stack's timers right after a read (see FullStackConfig::eager_timeouts).
        let _ = self.pc.handle_timeout(now);
        self.pump(now).await;
    }

    /// Drains the peer connection and the TURN client until neither has anything to say;
    /// every datagram goes out at once.
    async fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(w) = self.pc.poll_write() {
                progressed = true;
                self.send(now, w).await;
            }
            while let Some(e) = self.pc.poll_event() {
                progressed = true;
                self.on_event(now, e);
            }
            while let Some(m) = self.pc.poll_read() {
                progressed = true;
                if let RTCMessage::RtpPacket(_, p) = m.message {
                    let h = RtpHeader {
                        marker: p.header.marker,
                        payload_type: p.header.payload_type,
                        sequence: p.header.sequence_number,
                        timestamp: p.header.timestamp,
                        ssrc: p.header.ssrc,
                    };
                    self.outcome.rtp_received += 1;
                    self.outcome.received.push((m.now.max(self.created), h.write(&p.payload)));
                }
            }
            if let Some(t) = &mut self.turn {
                while let Some(w) = t.client.poll_write() {
                    progressed = true;
                    let _ = self.socket.send_to(&w.message, w.transport.peer_addr).await;
                }
                let mut relayed_in = Vec::new();
                while let Some(e) = t.client.poll_event() {
                    progressed = true;
                    match e {
                        TurnEvent::DataIndicationOrChannelData(_, peer, data) => relayed_in.push((peer, data)),
                        TurnEvent::CreatePermissionResponse(_, peer) => {
                            for msg in t.waiting.remove(&peer).unwrap_or_default() {
                                if let Ok(mut relay) = t.client.relay(t.relayed) {
                                    let _ = relay.send_to(now, &msg, peer);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let relayed = t.relayed;
                for (peer, data) in relayed_in {
                    let _ = self.pc.handle_read(tagged(now, relayed, peer, data));
                }
            }
            if !progressed {
                break;
            }
        }
    }

    async fn send(&mut self, now: Instant, w: TaggedBytesMut) {
        let peer = w.transport.peer_addr;
        match &mut self.turn {
            None => {
                let _ = self.socket.send_to(&w.message, peer).await;
            }
            Some(t) => {
                let Ok(mut relay) = t.client.relay(t.relayed) else { return };
                if let Err(rtc::shared::error::Error::ErrNoPermission) = relay.send_to(now, &w.message, peer) {
                    let first = !t.waiting.contains_key(&peer);
                    t.waiting.entry(peer).or_default().push_back(w.message);
                    if first && let Ok(mut relay) = t.client.relay(t.relayed) {
                        let _ = relay.create_permission(now, peer);
                    }
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: RTCPeerConnectionEvent) {
        if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = e {
            let was_connected = self.outcome.connection_states.last().is_some_and(|(_, s)| s == "connected");
            self.outcome.connection_states.push((ms_since(self.created, now), state.to_string()));
            match state {
                RTCPeerConnectionState::Connected if self.outcome.media_start.is_none() => {
                    self.outcome.media_start = Some(now);
                    self.outcome.setup_ms = Some(ms_since(self.created, now));
                }
                RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed if was_connected => {
                    self.outcome.disconnects += 1;
                }
                _ => {}
            }
        }
    }

    fn read_selected_pair(&mut self) {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None);
        if let Some(local) = full_stack::selected_local_candidate(&report) {
            let kind = local.rsplit_once('(').map(|(_, k)| k.trim_end_matches(')').to_owned());
            self.outcome.selected_local_candidate_type = kind;
            self.outcome.candidate_pair = Some(local);
        }
    }
}

/// Allocates a relayed address on `server` (long-term credentials), flushing promptly.
async fn allocate(socket: &UdpSocket, local: SocketAddr, server: &TurnServer) -> anyhow::Result<Turn> {
    let provider = rtc::crypto::default_provider().map_err(|e| anyhow!("crypto provider: {e}"))?;
    let mut client = TurnClient::new(
        TurnClientConfig {
            stun_serv_addr: server.addr.to_string(),
            turn_serv_addr: server.addr.to_string(),
            local_addr: local,
            transport_protocol: TransportProtocol::UDP,
            username: server.username.clone(),
            password: server.password.clone(),
            realm: String::new(),
            software: String::new(),
            rto_in_ms: 0,
            allocation_refresh_interval_cap: None,
        },
        provider,
    )?;
    let tid = client.allocate(Instant::now())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(w) = client.poll_write() {
            socket.send_to(&w.message, w.transport.peer_addr).await?;
        }
        while let Some(e) = client.poll_event() {
            match e {
                TurnEvent::AllocateResponse(t, relayed) if t == tid => {
                    return Ok(Turn { client, server: server.addr, relayed, waiting: HashMap::new() });
                }
                TurnEvent::AllocateError(t, err) if t == tid => {
                    bail!("TURN allocation on {} failed: {err}", server.addr)
                }
                TurnEvent::TransactionTimeout(t) if t == tid => bail!("TURN allocation on {} timed out", server.addr),
                _ => {}
            }
        }
        let now = Instant::now();
        if now >= deadline {
            bail!("TURN allocation on {}: no answer within 5 s", server.addr);
        }
        let wake = client.poll_timeout().unwrap_or(deadline).min(deadline);
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, from) = r?;
                let _ = client.handle_read(tagged(Instant::now(), local, from, BytesMut::from(&buf[..n])));
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let _ = client.handle_timeout(Instant::now());
            }
        }
    }
}
