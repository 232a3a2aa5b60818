//! The agent's WHIP endpoint through the harness's WHIP client: each way a request is refused
//! (status and a message that says why), the client's trust modes, and that bad clients never
//! stop the server.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderMap;
use jitterbug::whip_client::{Trust, WhipClient, WhipError};
use jitterbug_agent::{Agent, AgentConfig, TlsSource};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

const TOKEN: &str = "t0ken";

/// An audio-only offer as Chromium sends it to a WHIP endpoint after ICE gathering.
const OFFER: &str = "v=0\r
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0\r
a=extmap-allow-mixed\r
a=msid-semantic: WMS 6c1e0a5e-3d0b-4b59-9e0f-2f1a3d0c6b7e\r
m=audio 53915 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r
c=IN IP4 127.0.0.1\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=candidate:1467250027 1 udp 2122260223 127.0.0.1 53915 typ host generation 0 network-id 1\r
a=ice-ufrag:Hs7Q\r
a=ice-pwd:5pD1lX0s6Pz0Wn3GvCkUq7Ry\r
a=ice-options:trickle\r
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r
a=setup:actpass\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=sendrecv\r
a=msid:6c1e0a5e-3d0b-4b59-9e0f-2f1a3d0c6b7e 0b5d3f6e-7a2c-4c1d-8e9f-1a2b3c4d5e6f\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:111 opus/48000/2\r
a=rtcp-fb:111 transport-cc\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=rtpmap:63 red/48000/2\r
a=fmtp:63 111/111\r
a=rtpmap:9 G722/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:13 CN/8000\r
a=rtpmap:110 telephone-event/48000\r
a=rtpmap:126 telephone-event/8000\r
a=ssrc:2964523470 cname:Qw3rTy8uIoP1aS2d\r
";

async fn agent() -> Agent {
    agent_with(|_| {}).await
}

fn client(agent: &Agent) -> WhipClient {
    let ca = agent.ca_pem().expect("a generated CA").to_string();
    WhipClient::new(&agent.url(), TOKEN, Trust::CaPem(ca)).expect("client")
}

/// A raw `POST /whip`; the body as text for assertions.
async fn post(
    client: &WhipClient,
    content_type: Option<&str>,
    body: &[u8],
    token: Option<&str>,
) -> (u16, HeaderMap, String) {
    let (status, headers, body) =
        client.request(Method::POST, "/whip", content_type, body.to_vec(), token).await.expect("a response");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

async fn post_sdp(client: &WhipClient, sdp: &str) -> (u16, String) {
    let (status, _, body) = post(client, Some("application/sdp"), sdp.as_bytes(), Some(TOKEN)).await;
    (status, body)
}

async fn get_metrics(client: &WhipClient) -> String {
    let (status, headers, body) =
        client.request(Method::GET, "/metrics", None, Vec::new(), None).await.expect("metrics");
    assert_eq!(status, 200);
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    String::from_utf8(body).expect("metrics are text")
}

#[tokio::test]
async fn missing_token_is_401() {
    let agent = agent().await;
    let (status, headers, body) = post(&client(&agent), Some("application/sdp"), OFFER.as_bytes(), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(headers.get("www-authenticate").map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
    assert!(body.contains("bearer token"), "{body}");
}

#[tokio::test]
async fn wrong_token_is_401() {
    let agent = agent().await;
    let (status, headers, _) = post(&client(&agent), Some("application/sdp"), OFFER.as_bytes(), Some("t0keN")).await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn garbage_sdp_is_400_naming_the_problem() {
    let agent = agent().await;
    let (status, body) = post_sdp(&client(&agent), "this is not sdp").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid SDP") && body.contains("this is not sdp"), "{body}");

    let (status, _, body) = post(&client(&agent), Some("application/sdp"), b"v=0\r\n\xff\xfe", Some(TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not UTF-8"), "{body}");
}

#[tokio::test]
async fn offer_without_audio_is_400() {
    let agent = agent().await;
    let video = OFFER
        .replace("m=audio 53915 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "m=video 9 UDP/TLS/RTP/SAVPF 96")
        + "a=rtpmap:96 VP8/90000\r\n";
    let (status, body) = post_sdp(&client(&agent), &video).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no m=audio"), "{body}");
}

#[tokio::test]
async fn offer_with_only_unsupported_codecs_is_400_naming_them() {
    let agent = agent().await;
    let g722 = OFFER.replace("111 63 9 0 8 13 110 126", "9 126");
    let (status, body) = post_sdp(&client(&agent), &g722).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("g722/8000 pt 9, telephone-event/8000 pt 126"), "{body}");
    assert!(body.contains("expected Opus, PCMU or PCMA"), "{body}");
}

#[tokio::test]
async fn offer_without_fingerprint_is_400() {
    let agent = agent().await;
    let bare: String = OFFER.split_inclusive('\n').filter(|l| !l.starts_with("a=fingerprint")).collect();
    let (status, body) = post_sdp(&client(&agent), &bare).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no a=fingerprint"), "{body}");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let agent = agent().await;
    let huge = vec![b'a'; 1 << 20];
    let (status, _, body) = post(&client(&agent), Some("application/sdp"), &huge, Some(TOKEN)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("65536 bytes"), "{body}");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let agent = agent().await;
    let client = client(&agent);
    let (status, _, body) = post(&client, Some("application/json"), OFFER.as_bytes(), Some(TOKEN)).await;
    assert_eq!(status, 415, "{body}");
    assert!(body.contains("\"application/json\"") && body.contains("expected application/sdp"), "{body}");
    let (status, _, _) = post(&client, None, OFFER.as_bytes(), Some(TOKEN)).await;
    assert_eq!(status, 415);
    let (status, _, body) = post(&client, Some("Application/SDP; charset=utf-8"), b"v=0", Some(TOKEN)).await;
    assert_eq!(status, 400, "parameters and case are fine, the body is not: {body}");
}

#[tokio::test]
async fn unknown_session_is_404_and_needs_the_token() {
    let agent = agent().await;
    let client = client(&agent);
    let err = client.delete("/whip/nope").await.expect_err("unknown session");
    assert!(matches!(err, WhipError::Status { status: 404, .. }), "{err}");
    assert!(err.to_string().contains("/whip/nope"), "{err}");
    let err = client.get_trace("/whip/nope").await.expect_err("unknown session");
    assert!(matches!(err, WhipError::Status { status: 404, .. }), "{err}");

    let (status, _, _) = client.request(Method::DELETE, "/whip/nope", None, Vec::new(), None).await.expect("response");
    assert_eq!(status, 401, "no token: existence is not revealed");
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_is_405() {
    let agent = agent().await;
    let client = client(&agent);
    let (status, _, _) = client.request(Method::GET, "/whep", None, Vec::new(), Some(TOKEN)).await.expect("response");
    assert_eq!(status, 404);
    let (status, headers, _) =
        client.request(Method::GET, "/whip", None, Vec::new(), Some(TOKEN)).await.expect("response");
    assert_eq!(status, 405);
    assert_eq!(headers.get("allow").map(|v| v.as_bytes()), Some(&b"POST"[..]));
    let (status, _, _) = client
        .request(Method::PATCH, "/whip/x", Some("application/trickle-ice-sdpfrag"), Vec::new(), Some(TOKEN))
        .await
        .expect("response");
    assert_eq!(status, 405, "no trickle ICE");
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_counters() {
    let agent = agent().await;
    let client = client(&agent);
    post(&client, Some("application/sdp"), OFFER.as_bytes(), None).await;
    post_sdp(&client, "garbage").await;
    post_sdp(&client, "garbage").await;

    let text = get_metrics(&client).await;
    for line in [
        "# TYPE jitterbug_agent_sessions_active gauge",
        "jitterbug_agent_sessions_active 0",
        "# TYPE jitterbug_agent_sessions_started_total counter",
        "jitterbug_agent_sessions_started_total 0",
        "# TYPE jitterbug_agent_sessions_rejected_total counter",
        "jitterbug_agent_sessions_rejected_total{reason=\"unauthorized\"} 1",
        "jitterbug_agent_sessions_rejected_total{reason=\"invalid_offer\"} 2",
        "jitterbug_agent_sessions_rejected_total{reason=\"capacity\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test]
async fn server_survives_bad_clients() {
    let agent = agent().await;
    // Plain HTTP to the TLS port, a connection closed mid-handshake, a client that distrusts
    // the certificate, and bytes that are not HTTP.
    let mut plain = tokio::net::TcpStream::connect(agent.addr()).await.expect("connect");
    plain.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    drop(plain);
    let mut half = tokio::net::TcpStream::connect(agent.addr()).await.expect("connect");
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.expect("write");
    drop(half);
    let other_ca = other_ca();
    let distrusting = WhipClient::new(&agent.url(), TOKEN, Trust::CaPem(other_ca)).expect("client");
    assert!(distrusting.post_offer(OFFER).await.is_err());
    assert!(raw_over_tls(&agent, b"NOT HTTP AT ALL\r\n\r\n").await.starts_with("HTTP/1.1 400"));
    let client = client(&agent);

    for _ in 0..3 {
        let (status, body) = post_sdp(&client, "garbage").await;
        assert_eq!(status, 400, "{body}");
    }
    assert!(get_metrics(&client).await.contains("jitterbug_agent_sessions_rejected_total{reason=\"invalid_offer\"} 3"));
    assert_eq!(agent.session_count(), 0);
}

#[tokio::test]
async fn client_error_names_url_status_and_server_message() {
    let agent = agent().await;
    let err = client(&agent).post_offer("v=0\r\n").await.expect_err("bad offer");
    let WhipError::Status { status, ref message, .. } = err else { panic!("{err}") };
    assert_eq!(status, 400);
    assert!(message.contains("not valid SDP"), "{message}");
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("POST {}: HTTP 400:", agent.url())), "{shown}");
}

#[test]
fn insecure_is_refused_for_non_loopback_urls() {
    let err = WhipClient::new("https://example.com/whip", TOKEN, Trust::Insecure).err().expect("refused");
    assert!(matches!(err, WhipError::InsecureNotLoopback { .. }), "{err}");
    assert!(err.to_string().contains("https://example.com/whip"), "{err}");
    for url in ["https://localhost:8443/whip", "https://127.0.0.2/whip", "https://[::1]:9/whip"] {
        assert!(WhipClient::new(url, TOKEN, Trust::Insecure).is_ok(), "{url}");
    }
    let err = WhipClient::new("http://127.0.0.1/whip", TOKEN, Trust::Insecure).err().expect("refused");
    assert!(matches!(err, WhipError::BadUrl { .. }), "{err}");
}

#[tokio::test]
async fn insecure_works_on_loopback() {
    let agent = agent().await;
    let client = WhipClient::new(&agent.url(), TOKEN, Trust::Insecure).expect("loopback");
    let (status, _, _) = client.request(Method::GET, "/metrics", None, Vec::new(), None).await.expect("response");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn ca_file_from_ca_out_is_trusted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    let agent = agent_with(|c| c.tls = TlsSource::Generate { ca_out: Some(ca.clone()) }).await;
    let client = WhipClient::new(&agent.url(), TOKEN, Trust::Ca(ca)).expect("client");
    let (status, _, _) = client.request(Method::GET, "/metrics", None, Vec::new(), None).await.expect("handshake");
    assert_eq!(status, 200);

    let err = WhipClient::new(&agent.url(), TOKEN, Trust::Ca(dir.path().join("missing.pem"))).err().expect("no file");
    assert!(matches!(err, WhipError::TlsSetup { .. }) && err.to_string().contains("missing.pem"), "{err}");
    agent.shutdown().await;
}

#[tokio::test]
async fn another_ca_fails_the_handshake_clearly() {
    let agent = agent().await;
    let client = WhipClient::new(&agent.url(), TOKEN, Trust::CaPem(other_ca())).expect("client");
    let err = client.request(Method::GET, "/metrics", None, Vec::new(), None).await.expect_err("untrusted");
    assert!(matches!(err, WhipError::Tls { .. }), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("TLS handshake failed: invalid peer certificate: UnknownIssuer"), "{shown}");
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let agent = agent().await;
    let client = client(&agent);
    agent.shutdown().await;
    let err = client.request(Method::GET, "/metrics", None, Vec::new(), None).await.expect_err("gone");
    assert!(matches!(err, WhipError::Connect { .. }), "{err}");
}

/// Needs the session pipeline: a Chromium offer gets `201 Created`, an SDP answer and a
/// session URL that `DELETE` ends.
#[tokio::test]
async fn valid_offer_is_answered() {
    let agent = agent().await;
    let client = client(&agent);
    let (status, headers, body) = post(&client, Some("application/sdp"), OFFER.as_bytes(), Some(TOKEN)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers.get("content-type").map(|v| v.as_bytes()), Some(&b"application/sdp"[..]));
    let location = headers.get("location").and_then(|v| v.to_str().ok()).expect("Location").to_string();
    assert!(location.starts_with("/whip/"), "{location}");
    assert!(body.lines().any(|l| l.starts_with("a=")), "{body}");
    assert_eq!(agent.session_count(), 1);

    let id = location.trim_start_matches("/whip/");
    let trace = client.get_trace(&location).await.expect("the session's trace");
    assert_eq!((trace.id.as_str(), trace.trace_version), (id, jitterbug_core::agent_trace::TRACE_VERSION));
    assert!(trace.epoch_unix_ns > 0);
    let metrics = get_metrics(&client).await;
    assert!(metrics.contains("jitterbug_agent_sessions_active 1"), "{metrics}");
    assert!(metrics.contains(&format!("jitterbug_agent_session_rtp_received{{session=\"{id}\"}} ")), "{metrics}");
    client.delete(&location).await.expect("delete");
    assert_eq!(agent.session_count(), 0);

    let answer = client.post_offer(OFFER).await.expect("answer");
    assert!(answer.location.starts_with(&format!("{}/", agent.url())), "{}", answer.location);
    agent.shutdown().await;
}

/// Sends `bytes` over a trusted TLS connection and returns what comes back.
async fn raw_over_tls(agent: &Agent, bytes: &[u8]) -> String {
    let ca = agent.ca_pem().expect("a generated CA");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(agent.addr()).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("IP name");
    let mut tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("handshake");
    tls.write_all(bytes).await.expect("write");
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply).await.expect("read");
    String::from_utf8_lossy(&reply).into_owned()
}

async fn agent_with(configure: impl FnOnce(&mut AgentConfig)) -> Agent {
    let preset = jitterbug_agent::presets::load("balanced-fec").expect("preset");
    let mut config = AgentConfig::loopback(preset, TOKEN);
    configure(&mut config);
    jitterbug_agent::serve(config).await.expect("agent starts")
}

/// Needs the session pipeline: beyond `max_sessions` an offer gets 503 with `Retry-After`.
#[tokio::test]
async fn full_agent_is_503_with_retry_after() {
    let agent = agent_with(|c| c.max_sessions = 1).await;
    let client = client(&agent);
    let first = client.post_offer(OFFER).await.expect("first call");
    let (status, headers, body) = post(&client, Some("application/sdp"), OFFER.as_bytes(), Some(TOKEN)).await;
    assert_eq!(status, 503, "{body}");
    assert!(headers.contains_key("retry-after"));
    client.delete(&first.location).await.expect("delete");
    client.post_offer(OFFER).await.expect("a slot is free again");
    agent.shutdown().await;
}

/// Needs the session pipeline: a session without media or signalling is closed after
/// `idle_timeout`.
#[tokio::test]
async fn idle_sessions_are_closed() {
    let agent = agent_with(|c| c.idle_timeout = Duration::from_millis(200)).await;
    let answer = client(&agent).post_offer(OFFER).await.expect("answer");
    assert_eq!(agent.session_count(), 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while agent.session_count() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "idle session still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = client(&agent).delete(&answer.location).await.expect_err("already closed");
    assert!(matches!(err, WhipError::Status { status: 404, .. }), "{err}");
}

fn other_ca() -> String {
    let other = jitterbug_agent::tls::server_tls(&TlsSource::Generate { ca_out: None }, IpAddr::from([127, 0, 0, 1]))
        .expect("another CA");
    other.ca_pem.expect("generated CA")
}
