//! A finding, kept as a test: the stock webrtc 0.21 async driver as a TURN client (relay-only
//! through coturn on loopback) against the reference agent, with RTP transit measured per
//! packet (client write → agent read, matched by sequence number). The native client — our
//! own loop over the same sans-I/O core, flushing relay writes at once — is the comparison
//! (`live.rs`: its relayed transit stays under a few ms). Measured here: the stock driver's
//! relayed uplink RTP waits for its next wake-up — p50 ≈ 10 ms, p95 ≈ 19 ms on loopback —
//! while its downlink and STUN round trips are prompt; setup through TURN takes about 3 s
//! (2 s of it rtc's default relay acceptance wait). Pinned so a fix upstream shows up here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jitterbug::live::coturn::Coturn;
use jitterbug::whip_client::{Trust, WhipClient};
use jitterbug_agent::AgentConfig;
use jitterbug_core::codec::Encoder;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::Notify;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionState, RTCSessionDescription, Registry,
    register_default_interceptors,
};

struct Events {
    gathered: Arc<Notify>,
    connected: Arc<Notify>,
    /// (sequence number, arrival unix ms) of the agent's RTP.
    received: Arc<Mutex<Vec<(u16, f64)>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        if s == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }
    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        if s == RTCPeerConnectionState::Connected {
            self.connected.notify_one();
        }
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let received = self.received.clone();
        tokio::spawn(async move {
            while let Some(ev) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = ev {
                    received.lock().unwrap().push((p.header.sequence_number, unix_ms(SystemTime::now())));
                }
            }
        });
    }
}

fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_async_driver_as_turn_client_delays_relayed_rtp() {
    let preset = jitterbug_agent::presets::load("balanced-fec").unwrap();
    let agent = jitterbug_agent::serve(AgentConfig::loopback(preset.clone(), "tok")).await.unwrap();
    let whip = WhipClient::new(&agent.url(), "tok", Trust::CaPem(agent.ca_pem().unwrap().into())).unwrap();
    let coturn = Coturn::start().unwrap();

    let codec = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.into(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
            rtcp_feedback: vec![],
        },
        payload_type: 111,
    };
    let mut me = MediaEngine::default();
    me.register_codec(codec.clone(), RtpCodecKind::Audio).unwrap();
    let registry = register_default_interceptors(Registry::new(), &mut me).unwrap();
    let config = RTCConfigurationBuilder::new()
        .with_ice_servers(vec![RTCIceServer {
            urls: vec![format!("turn:{}?transport=udp", coturn.server.addr)],
            username: coturn.server.username.clone(),
            credential: coturn.server.password.clone(),
        }])
        .with_ice_transport_policy(RTCIceTransportPolicy::Relay)
        .build();
    let events = Events {
        gathered: Arc::new(Notify::new()),
        connected: Arc::new(Notify::new()),
        received: Arc::new(Mutex::new(Vec::new())),
    };
    let (gathered, connected, received) = (events.gathered.clone(), events.connected.clone(), events.received.clone());
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config)
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(events))
        .with_udp_addrs(vec!["127.0.0.1:0"])
        .build()
        .await
        .unwrap();
    let ssrc = 0x4a42_7475;
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "stock".into(),
        "stock-audio".into(),
        "stock-audio".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: codec.rtp_codec.clone(),
            ..Default::default()
        }],
    )));
    pc.add_track(track.clone() as Arc<dyn TrackLocal>).await.unwrap();
    let started = Instant::now();
    let offer = pc.create_offer(None).await.unwrap();
    pc.set_local_description(offer).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), gathered.notified()).await.expect("TURN gathering completes");
    let offer = pc.local_description().await.unwrap();
    assert!(offer.sdp.contains("typ relay"), "no relay candidate gathered:\n{}", offer.sdp);
    let answer = whip.post_offer(&offer.sdp).await.unwrap();
    pc.set_remote_description(RTCSessionDescription::answer(answer.sdp.clone()).unwrap()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), connected.notified()).await.expect("connects through TURN");
    let setup_ms = started.elapsed().as_secs_f64() * 1e3;

    // 3 s of Opus, send times recorded per sequence number.
    let mut enc = Encoder::new(&preset.codec).unwrap();
    let pcm: Vec<i16> = (0..960).map(|i| ((i as f64 * 0.05).sin() * 6000.0) as i16).collect();
    let mut sent = Vec::new();
    for seq in 0..150u16 {
        // Irregular gaps (9–31 ms, fixed sequence) so writes land at every phase of the
        // driver's own wake-ups instead of one phase for the whole run.
        tokio::time::sleep(Duration::from_millis(9 + (u64::from(seq) * 7919) % 23)).await;
        let payload = Bytes::from(enc.encode(&pcm).unwrap().payload);
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::Header {
                version: 2,
                payload_type: 111,
                sequence_number: seq,
                timestamp: u32::from(seq) * 960,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        sent.push((seq, unix_ms(SystemTime::now())));
        track.write_rtp(packet).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let trace = whip.get_trace(&answer.location).await.unwrap();
    let epoch_ms = trace.epoch_unix_ns as f64 / 1e6;
    let arrivals: std::collections::HashMap<u16, f64> = trace.rtp_in.iter().copied().collect();
    let percentiles = |mut v: Vec<f64>| -> (usize, f64, f64) {
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return (0, f64::NAN, f64::NAN);
        }
        (v.len(), v[v.len() / 2], v[v.len() * 95 / 100])
    };
    let up = percentiles(sent.iter().filter_map(|(seq, at)| Some(epoch_ms + arrivals.get(seq)? - at)).collect());
    let agent_sent: std::collections::HashMap<u16, f64> =
        trace.rtp_out.iter().map(|&(seq, ms)| (seq, epoch_ms + ms)).collect();
    let down =
        percentiles(received.lock().unwrap().iter().filter_map(|(seq, at)| Some(at - agent_sent.get(seq)?)).collect());
    // The relayed pair's STUN round trip, as the stack measured it.
    let stats = pc.get_stats(Instant::now(), webrtc::peer_connection::StatsSelector::None).await;
    let rtt_ms = stats
        .iter()
        .filter_map(|e| match e {
            webrtc::peer_connection::RTCStatsReportEntry::IceCandidatePair(p) if p.responses_received > 0 => {
                Some(p.current_round_trip_time * 1e3)
            }
            _ => None,
        })
        .fold(f64::NAN, f64::max);
    let _ = whip.delete(&answer.location).await;
    pc.close().await.unwrap();
    agent.shutdown().await;
    drop(coturn);

    eprintln!(
        "stock webrtc 0.21 driver via TURN: setup {setup_ms:.0} ms; relayed pair STUN RTT {rtt_ms:.1} ms; RTP transit uplink p50 {:.1} / p95 {:.1} ms ({} packets), downlink p50 {:.1} / p95 {:.1} ms ({} packets)",
        up.1, up.2, up.0, down.1, down.2, down.0
    );
    assert!(up.0 >= 140 && down.0 >= 100, "packets missing: uplink {}, downlink {}", up.0, down.0);
    // The defect: a relayed write waits for the driver's next wake-up (here the agent's
    // 20 ms packet cadence), so uplink transit spreads over 0–20 ms on loopback while the
    // native client's stays under a millisecond (live.rs) and so does this driver's downlink.
    assert!(
        up.2 > 10.0,
        "uplink p95 {:.1} ms: the stock driver now flushes relayed writes promptly (fixed upstream?)",
        up.2
    );
    assert!(down.2 < 5.0, "downlink p95 {:.1} ms", down.2);
}
