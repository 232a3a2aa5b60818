//! One call: a webrtc-rs 0.21 peer connection (ICE-lite, audio only) and the media loop that
//! drives the shared cores — jitter buffer and decoder in, [`Conversation`] in the middle,
//! encoder and packetiser out — on a 10 ms tick, as an audio device would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jitterbug_core::agent_trace::{AgentTrace, TRACE_VERSION};
use jitterbug_core::codec::{Codec, CodecSettings, Decoder, Encoder};
use jitterbug_core::jitter_buffer::{BLOCK, JitterBuffer, RtpInfo};
use jitterbug_core::packetizer::Packetizer;
use jitterbug_core::rtpdump::Rtpdump;
use jitterbug_core::time::Timestamp;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

use crate::config::AgentConfig;
use crate::conversation::Conversation;
use crate::offer::{Offer, OfferedCodec};
use crate::sdp_munge;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The offer cannot be answered (no common codec, …): a 4xx for the caller.
    #[error("{0}")]
    Unacceptable(String),
    /// Our side failed: a 5xx.
    #[error("internal error: {0}")]
    Internal(String),
}

fn internal(what: &str) -> impl FnOnce(webrtc::error::Error) -> SessionError + '_ {
    move |e| SessionError::Internal(format!("{what}: {e}"))
}

/// Counters exported on `/metrics` (one set per live session).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionMetrics {
    pub connected: bool,
    pub rtp_received: u64,
    pub rtp_sent: u64,
    pub packets_late: u64,
    pub concealed_samples: u64,
    pub total_samples_received: u64,
    pub turns: u64,
    pub answers_completed: u64,
    pub false_end_of_turn: u64,
    pub barge_ins: u64,
    /// Largest lateness of the media tick, ms: audio timing on an overloaded host.
    pub tick_late_max_ms: f64,
}

struct Shared {
    epoch: Instant,
    last_activity_ns: AtomicU64,
    /// The trace as the media loop updates it (its `epoch_unix_ns` is the wall-clock time of
    /// `epoch`, so a client on the same host can line up its own timeline with it).
    state: Mutex<AgentTrace>,
    /// Decoded uplink as played out (10 ms blocks from the first tick), when recording.
    uplink: Option<Mutex<Vec<i16>>>,
    /// What the agent sent, sample-aligned with the session clock from the first send.
    downlink: Option<Mutex<Vec<i16>>>,
    /// The RTP packets it sent, in plaintext with their send times (SRTP hides the payloads
    /// from any capture; `jitterbug replay --payloads` takes them from here).
    sent: Option<Mutex<Rtpdump>>,
}

impl Shared {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    fn touch(&self) {
        self.last_activity_ns.store(self.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AgentTrace> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn ms(t: Timestamp) -> f64 {
    t.as_nanos() as f64 / 1e6
}

pub struct Session {
    pub id: String,
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    stop: Arc<Notify>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    config: Arc<AgentConfig>,
}

/// Events from webrtc's callbacks into the session.
enum Event {
    Track(Arc<dyn TrackRemote>),
    State(RTCPeerConnectionState),
}

struct Handler {
    events: mpsc::UnboundedSender<Event>,
    gathered: Arc<Notify>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(Event::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(Event::Track(track));
    }
}

/// The codec this call uses: the preset's when offered, else PCMU, else PCMA (the fallback
/// every WebRTC endpoint offers), with the offer's payload type.
fn choose_codec(preset: &CodecSettings, offer: &Offer) -> Result<(CodecSettings, OfferedCodec), SessionError> {
    let find = |name: &str| offer.codecs.iter().find(|c| c.name == name && (name != "opus" || c.clock_rate == 48_000));
    let wanted = match preset.codec {
        Codec::Opus => "opus",
        Codec::Pcmu => "pcmu",
        Codec::Pcma => "pcma",
    };
    if let Some(c) = find(wanted) {
        return Ok((preset.clone(), c.clone()));
    }
    for (name, codec) in [("pcmu", Codec::Pcmu), ("pcma", Codec::Pcma)] {
        if let Some(c) = find(name) {
            let mut s = preset.clone();
            s.codec = codec;
            s.fec = false;
            s.dtx = false;
            return Ok((s, c.clone()));
        }
    }
    let offered: Vec<&str> = offer.codecs.iter().map(|c| c.name.as_str()).collect();
    Err(SessionError::Unacceptable(format!(
        "no common audio codec: the offer has [{}], this agent speaks {wanted} (preset) with PCMU/PCMA fallback",
        offered.join(", ")
    )))
}

fn codec_parameters(settings: &CodecSettings, offered: &OfferedCodec) -> RTCRtpCodecParameters {
    let (mime, clock_rate, channels) = match settings.codec {
        Codec::Opus => (MIME_TYPE_OPUS, 48_000, 2),
        Codec::Pcmu => (MIME_TYPE_PCMU, 8_000, 0),
        Codec::Pcma => (MIME_TYPE_PCMA, 8_000, 0),
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: offered.fmtp.clone(),
            rtcp_feedback: vec![],
        },
        payload_type: offered.payload_type,
    }
}

/// A stable 32-bit value from the session id (the SSRC and first sequence number/timestamp).
fn id_hash(id: &str, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Session {
    /// Answers `offer`; returns the session and the answer SDP to send back.
    pub async fn start(
        id: String,
        config: Arc<AgentConfig>,
        offer: Offer,
    ) -> Result<(Arc<Session>, String), SessionError> {
        let (settings, offered) = choose_codec(&config.preset.codec, &offer)?;
        let params = codec_parameters(&settings, &offered);
        let mut media_engine = MediaEngine::default();
        media_engine.register_codec(params.clone(), RtpCodecKind::Audio).map_err(internal("register codec"))?;
        let registry =
            register_default_interceptors(Registry::new(), &mut media_engine).map_err(internal("interceptors"))?;
        let settings_engine = SettingEngineBuilder::new()
            .with_lite(true)
            // mDNS would multicast outside loopback; ICE-lite needs no remote candidates anyway.
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(true);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let gathered = Arc::new(Notify::new());
        let handler = Arc::new(Handler { events: events_tx, gathered: gathered.clone() });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings_engine.build())
            .with_handler(handler)
            .with_udp_addrs(vec![std::net::SocketAddr::new(config.media_ip, config.media_port.unwrap_or(0))])
            .build()
            .await
            .map_err(internal("peer connection"))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        let ssrc = id_hash(&id, 1) as u32;
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("jitterbug-agent-{id}"),
            "agent-audio".to_owned(),
            "agent-audio".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec: params.rtp_codec.clone(),
                active: true,
                ..Default::default()
            }],
        )));
        let answer = async {
            let remote = RTCSessionDescription::offer(offer.sdp.clone())
                .map_err(|e| SessionError::Unacceptable(format!("offer rejected by the SDP parser: {e}")))?;
            pc.set_remote_description(remote)
                .await
                .map_err(|e| SessionError::Unacceptable(format!("offer rejected: {e}")))?;
            pc.add_track(track.clone() as Arc<dyn TrackLocal>).await.map_err(internal("add track"))?;
            let answer = pc.create_answer(None).await.map_err(internal("create answer"))?;
            pc.set_local_description(answer).await.map_err(internal("set local description"))?;
            // Non-trickle: the answer carries the (host) candidate.
            let _ = tokio::time::timeout(Duration::from_secs(2), gathered.notified()).await;
            let local =
                pc.local_description().await.ok_or_else(|| SessionError::Internal("no local description".into()))?;
            Ok::<_, SessionError>(local.sdp)
        }
        .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                let _ = pc.close().await;
                return Err(e);
            }
        };
        let mut answer = sdp_munge::apply_preset(&answer, offered.payload_type, &settings);
        if let Some(ip) = config.advertise_ip {
            answer = sdp_munge::advertise(&answer, ip);
        }

        let epoch = Instant::now();
        let epoch_unix_ns = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let recording = config.record_dir.is_some();
        let shared = Arc::new(Shared {
            epoch,
            last_activity_ns: AtomicU64::new(0),
            state: Mutex::new(AgentTrace {
                trace_version: TRACE_VERSION,
                id: id.clone(),
                preset: config.preset.name.clone(),
                epoch_unix_ns,
                hangover_ms: config.turn_hangover.as_secs_f64() * 1e3,
                budgets: config.budgets,
                codec: format!("{}/{}", settings.mime(), settings.rtp_clock_rate()),
                payload_type: offered.payload_type,
                ..Default::default()
            }),
            uplink: recording.then(|| Mutex::new(Vec::new())),
            downlink: recording.then(|| Mutex::new(Vec::new())),
            sent: recording.then(|| {
                let source = match config.media_ip {
                    std::net::IpAddr::V4(ip) => std::net::SocketAddrV4::new(ip, config.media_port.unwrap_or(0)),
                    std::net::IpAddr::V6(_) => std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
                };
                Mutex::new(Rtpdump::new(Duration::from_nanos(epoch_unix_ns as u64), source))
            }),
        });
        let stop = Arc::new(Notify::new());
        let media = match MediaLoop::new(&id, &config, settings, offered.payload_type, ssrc, shared.clone()) {
            Ok(m) => m,
            Err(e) => {
                let _ = pc.close().await;
                return Err(e);
            }
        };
        let task = tokio::spawn(media.run(events_rx, track, stop.clone()));
        let session = Arc::new(Session { id, pc, shared, stop, task: Mutex::new(Some(task)), config });
        Ok((session, answer))
    }

    /// Ends the call, releases its socket and writes the recordings; idempotent.
    pub async fn close(&self) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(task) = task else { return };
        self.stop.notify_one();
        let _ = task.await;
        let _ = self.pc.close().await;
        self.shared.state().closed_ms = Some(ms(self.shared.now()));
        if let Some(dir) = &self.config.record_dir
            && let Err(e) = self.write_recordings(dir)
        {
            eprintln!("jitterbug-agent: session {}: cannot write recordings to {}: {e}", self.id, dir.display());
        }
    }

    fn write_recordings(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, pcm) in [("uplink", &self.shared.uplink), ("downlink", &self.shared.downlink)] {
            if let Some(pcm) = pcm {
                let pcm = pcm.lock().unwrap_or_else(|e| e.into_inner());
                crate::wav::write(&dir.join(format!("{}.{name}.wav", self.id)), &pcm)?;
            }
        }
        if let Some(sent) = &self.shared.sent {
            let dump = sent.lock().unwrap_or_else(|e| e.into_inner()).to_bytes();
            std::fs::write(dir.join(format!("{}.downlink.rtpdump", self.id)), dump)?;
        }
        std::fs::write(dir.join(format!("{}.trace.json", self.id)), serde_json::to_vec_pretty(&self.trace())?)?;
        Ok(())
    }

    /// The session's trace (stage timings, jitter-buffer counters, packets).
    pub fn trace(&self) -> AgentTrace {
        self.shared.state().clone()
    }

    pub fn metrics(&self) -> SessionMetrics {
        let s = self.shared.state();
        SessionMetrics {
            connected: s.connected_ms.is_some() && s.closed_ms.is_none(),
            rtp_received: s.rtp_received,
            rtp_sent: s.rtp_sent,
            packets_late: s.jitter_buffer.packets_late,
            concealed_samples: s.jitter_buffer.concealed_samples,
            total_samples_received: s.jitter_buffer.total_samples_received,
            turns: s.conversation.turns,
            answers_completed: s.conversation.answers_completed,
            false_end_of_turn: s.conversation.false_end_of_turn,
            barge_ins: s.conversation.barge_ins,
            tick_late_max_ms: s.tick_late_max_ms,
        }
    }

    /// When media or signalling last touched this session.
    pub fn last_activity(&self) -> Instant {
        self.shared.epoch + Duration::from_nanos(self.shared.last_activity_ns.load(Ordering::Relaxed))
    }
}

/// The media loop's own state: owned by one task, no locks on the audio path except to
/// publish counters.
struct MediaLoop {
    settings: CodecSettings,
    jb: JitterBuffer<Decoder>,
    encoder: Encoder,
    packetizer: Packetizer,
    conversation: Conversation,
    shared: Arc<Shared>,
    connected: bool,
}

/// Media tick: the receive side plays 10 ms blocks.
const TICK: Duration = Duration::from_millis(10);

impl MediaLoop {
    fn new(
        id: &str,
        config: &AgentConfig,
        settings: CodecSettings,
        payload_type: u8,
        ssrc: u32,
        shared: Arc<Shared>,
    ) -> Result<MediaLoop, SessionError> {
        let codec_err = |e: jitterbug_core::codec::CodecError| SessionError::Internal(format!("codec: {e}"));
        let decoder = Decoder::new(&settings).map_err(codec_err)?;
        let encoder = Encoder::new(&settings).map_err(codec_err)?;
        let h = id_hash(id, 2);
        Ok(MediaLoop {
            jb: JitterBuffer::new(config.preset.jitter_buffer, settings.rtp_clock_rate(), decoder),
            packetizer: Packetizer::new(&settings, payload_type, ssrc, h as u16, (h >> 16) as u32),
            encoder,
            conversation: Conversation::new(config.behaviour.clone(), config.budgets, config.turn_hangover),
            settings,
            shared,
            connected: false,
        })
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        track: Arc<TrackLocalStaticRTP>,
        stop: Arc<Notify>,
    ) {
        let (rtp_tx, mut rtp_rx) = mpsc::unbounded_channel::<(Instant, rtc::rtp::Packet)>();
        let mut readers = Vec::new();
        // Feedback about our own track must be drained or its channel fills.
        let feedback = track.clone();
        readers.push(tokio::spawn(async move { while feedback.poll().await.is_some() {} }));
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval_at(start + TICK, TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let frame_ticks = (self.settings.frame_ms.millis() / 10).max(1) as u64;
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = stop.notified() => break,
                Some(ev) = events.recv() => match ev {
                    Event::Track(remote) => {
                        let tx = rtp_tx.clone();
                        readers.push(tokio::spawn(async move {
                            while let Some(ev) = remote.poll().await {
                                if let TrackRemoteEvent::OnRtpPacket(p) = ev
                                    && tx.send((Instant::now(), p)).is_err()
                                {
                                    break;
                                }
                            }
                        }));
                    }
                    Event::State(state) => self.on_state(state),
                },
                Some((at, packet)) = rtp_rx.recv() => self.on_rtp(at, packet),
                scheduled = tick.tick() => {
                    ticks += 1;
                    let late = tokio::time::Instant::now().saturating_duration_since(scheduled);
                    self.play_block(late);
                    if ticks.is_multiple_of(frame_ticks) && self.connected {
                        self.send_frame(&track).await;
                    }
                }
            }
        }
        for r in readers {
            r.abort();
        }
        self.publish();
    }

    fn on_state(&mut self, state: RTCPeerConnectionState) {
        let now = ms(self.shared.now());
        let mut s = self.shared.state();
        s.connection_states.push((now, state.to_string()));
        if state == RTCPeerConnectionState::Connected && s.connected_ms.is_none() {
            s.connected_ms = Some(now);
            self.connected = true;
        }
        if matches!(state, RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) {
            self.connected = false;
        }
        drop(s);
        self.shared.touch();
    }

    fn on_rtp(&mut self, at: Instant, p: rtc::rtp::Packet) {
        // Firefox pads with empty RTP packets; they carry no audio.
        if p.payload.is_empty() {
            return;
        }
        let now = Timestamp::from_nanos(at.saturating_duration_since(self.shared.epoch).as_nanos() as u64);
        let rtp = RtpInfo { ssrc: p.header.ssrc, sequence: p.header.sequence_number, timestamp: p.header.timestamp };
        self.jb.insert(now, rtp, p.payload.to_vec());
        let mut s = self.shared.state();
        s.rtp_received += 1;
        s.rtp_in.push((p.header.sequence_number, ms(now)));
        s.first_rtp_ms.get_or_insert(ms(now));
        s.last_rtp_ms = Some(ms(now));
        drop(s);
        self.shared.touch();
    }

    fn play_block(&mut self, late: Duration) {
        let now = self.shared.now();
        let concealed_before = self.jb.stats().concealed_samples;
        let block = self.jb.pull(now);
        debug_assert_eq!(block.len(), BLOCK);
        let concealed = self.jb.stats().concealed_samples > concealed_before;
        self.conversation.push_uplink(now, &block, concealed);
        if let Some(rec) = &self.shared.uplink {
            rec.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&block);
        }
        let late_ms = late.as_secs_f64() * 1e3;
        let mut s = self.shared.state();
        s.tick_late_max_ms = s.tick_late_max_ms.max(late_ms);
        s.ticks_missed += u64::from(late >= TICK);
        drop(s);
        self.publish();
    }

    async fn send_frame(&mut self, track: &TrackLocalStaticRTP) {
        let now = self.shared.now();
        let pcm = self.conversation.next_frame(now, self.settings.frame_samples());
        if let Some(rec) = &self.shared.downlink {
            let mut rec = rec.lock().unwrap_or_else(|e| e.into_inner());
            // Place the frame at its send time on the session clock.
            let at = (now.as_nanos() / 1_000_000 * 48) as usize;
            if rec.len() < at {
                rec.resize(at, 0);
            }
            rec.extend_from_slice(&pcm);
        }
        let Ok(encoded) = self.encoder.encode(&pcm) else { return };
        let Some((h, payload)) = self.packetizer.push(&encoded) else { return };
        let plaintext = self.shared.sent.as_ref().map(|_| h.write(payload));
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::Header {
                version: 2,
                marker: h.marker,
                payload_type: h.payload_type,
                sequence_number: h.sequence,
                timestamp: h.timestamp,
                ssrc: h.ssrc,
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(payload),
        };
        let seq = packet.header.sequence_number;
        if track.write_rtp(packet).await.is_ok() {
            if let (Some(sent), Some(bytes)) = (&self.shared.sent, plaintext) {
                sent.lock().unwrap_or_else(|e| e.into_inner()).push(Duration::from_nanos(now.as_nanos()), bytes);
            }
            let mut s = self.shared.state();
            s.rtp_sent += 1;
            s.rtp_out.push((seq, ms(self.shared.now())));
        }
    }

    fn publish(&mut self) {
        let mut s = self.shared.state();
        s.jitter_buffer = *self.jb.stats();
        s.conversation = self.conversation.counters();
        s.turns.clone_from(&self.conversation.turns().to_vec());
    }
}
