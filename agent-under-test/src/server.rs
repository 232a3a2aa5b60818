//! WHIP signalling (RFC 9725) over HTTPS: `POST /whip` answers an offer and creates a session,
//! `DELETE /whip/<id>` ends it, `GET /whip/<id>/trace` returns its trace and `GET /metrics`
//! exports counters for Prometheus. One task per connection, so a bad client (failed TLS
//! handshake, garbage request) only loses its own connection.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::config::AgentConfig;
use crate::offer;
use crate::prometheus::{self, Family, Kind};
use crate::session::{Session, SessionError};
use crate::tls;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// After a 413 the rest of the body is read (and discarded) up to these limits so the client
/// sees the response rather than a connection reset.
const DRAIN_BYTES: usize = 8 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(5);
/// How long shutdown lets in-flight requests finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// `Retry-After` seconds when every session slot is taken.
const RETRY_AFTER_S: &str = "5";

type Body = Full<Bytes>;

/// A running agent; dropping it stops accepting, [`Agent::shutdown`] also ends the sessions.
pub struct Agent {
    addr: SocketAddr,
    ca_pem: Option<String>,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Agent {
    /// The bound address (the real port when `listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WHIP endpoint; a wildcard listen address is reached through loopback.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("https://{}/whip", SocketAddr::new(ip, self.addr.port()))
    }

    /// PEM of the generated CA clients must trust (`None` with certificate files).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.state.sessions().len()
    }

    /// Stops accepting, lets in-flight requests finish (up to a grace period), then closes
    /// every session and waits for the background tasks.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            // A panicked task has nothing left to clean up.
            let _ = task.await;
        }
        let all: Vec<Live> = self.state.sessions().drain().map(|(_, live)| live).collect();
        for live in all {
            live.session.close().await;
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Binds `config.listen`, sets up TLS and starts serving.
pub async fn serve(config: AgentConfig) -> anyhow::Result<Agent> {
    anyhow::ensure!(!config.token.is_empty(), "the bearer token is empty: every request would be authorised");
    anyhow::ensure!(config.max_sessions > 0, "max_sessions is 0: no call could ever be answered");
    let tls = tls::server_tls(&config.tls, config.listen.ip()).context("HTTPS certificate")?;
    let listener =
        TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr().context("listening socket has no address")?;

    let state = Arc::new(State::new(config));
    let (shutdown, stop) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(accept_loop(listener, tls.acceptor, state.clone(), stop.clone())),
        tokio::spawn(reap_idle(state.clone(), stop)),
    ];
    Ok(Agent { addr, ca_pem: tls.ca_pem, state, shutdown, tasks })
}

/// A live session and the slot it holds until it is removed.
struct Live {
    session: Arc<Session>,
    _slot: OwnedSemaphorePermit,
}

struct State {
    config: Arc<AgentConfig>,
    sessions: Mutex<HashMap<String, Live>>,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    id_keys: RandomState,
    started: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
}

impl State {
    fn new(config: AgentConfig) -> State {
        State {
            slots: Arc::new(Semaphore::new(config.max_sessions)),
            config: Arc::new(config),
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            id_keys: RandomState::new(),
            started: AtomicU64::new(0),
            rejected: Default::default(),
        }
    }

    /// The session table; a panic elsewhere while it was held leaves it usable.
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Live>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions().get(id).map(|live| live.session.clone())
    }

    /// Unique (counter) and hard to guess (keyed hash of the counter and the clock): an id is
    /// half of the capability to delete a session.
    fn new_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{n:x}{:016x}", self.id_keys.hash_one((n, SystemTime::now())))
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, credentials)) = value.trim().split_once(' ') else { return false };
        scheme.eq_ignore_ascii_case("bearer")
            && constant_time_eq(credentials.trim().as_bytes(), self.config.token.as_bytes())
    }
}

/// Compares without an early exit, so response time says nothing about how much of a guessed
/// token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a `POST /whip` got no session; each has a status and a `/metrics` label.
#[derive(Debug, Clone, Copy)]
enum Reject {
    Unauthorized,
    UnsupportedMediaType,
    BodyTooLarge,
    UnreadableBody,
    InvalidOffer,
    Unacceptable,
    Capacity,
    Internal,
}

impl Reject {
    const ALL: [Reject; 8] = [
        Reject::Unauthorized,
        Reject::UnsupportedMediaType,
        Reject::BodyTooLarge,
        Reject::UnreadableBody,
        Reject::InvalidOffer,
        Reject::Unacceptable,
        Reject::Capacity,
        Reject::Internal,
    ];

    fn label(self) -> &'static str {
        match self {
            Reject::Unauthorized => "unauthorized",
            Reject::UnsupportedMediaType => "unsupported_media_type",
            Reject::BodyTooLarge => "body_too_large",
            Reject::UnreadableBody => "unreadable_body",
            Reject::InvalidOffer => "invalid_offer",
            Reject::Unacceptable => "unacceptable",
            Reject::Capacity => "capacity",
            Reject::Internal => "internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Reject::Unauthorized => StatusCode::UNAUTHORIZED,
            Reject::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::UnreadableBody | Reject::InvalidOffer => StatusCode::BAD_REQUEST,
            Reject::Unacceptable => StatusCode::NOT_ACCEPTABLE,
            Reject::Capacity => StatusCode::SERVICE_UNAVAILABLE,
            Reject::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error response, with the headers its status calls for.
    fn response(self, message: &str) -> Response<Body> {
        let mut response = text(self.status(), message);
        let headers = response.headers_mut();
        match self {
            Reject::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Reject::Capacity => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
            }
            _ => {}
        }
        response
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<State>, stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let mut accept_stop = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, acceptor.clone(), state.clone(), stop.clone()));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stopped(&mut accept_stop) => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        connections.shutdown().await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    // Latency of the answer matters more than packet count.
    let _ = stream.set_nodelay(true);
    let tls = tokio::select! {
        handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => match handshake {
            Ok(Ok(tls)) => tls,
            // A failed or stalled handshake costs only this connection.
            _ => return,
        },
        _ = stopped(&mut stop) => return,
    };
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(route(&state, req).await) }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let mut connection = pin!(builder.serve_connection(TokioIo::new(tls), service));
    tokio::select! {
        // hyper already answered a malformed request with 400; nothing to add.
        _ = connection.as_mut() => return,
        _ = stopped(&mut stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

async fn route(state: &State, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(&path).split('/').collect();
    let method = req.method().clone();
    match (segments.as_slice(), method) {
        (["metrics"], Method::GET) => metrics(state),
        (["metrics"], _) => method_not_allowed("GET"),
        (["whip"], Method::POST) => match create(state, req).await {
            Ok(response) => response,
            Err((reason, message)) => {
                state.rejected[reason as usize].fetch_add(1, Ordering::Relaxed);
                reason.response(&message)
            }
        },
        (["whip"], _) => method_not_allowed("POST"),
        (["whip", id], Method::DELETE) if state.authorized(&req) => delete(state, id).await,
        (["whip", id, "trace"], Method::GET) if state.authorized(&req) => trace(state, id),
        (["whip", _], Method::DELETE) | (["whip", _, "trace"], Method::GET) => unauthorized(),
        (["whip", _], _) => method_not_allowed("DELETE"),
        (["whip", _, "trace"], _) => method_not_allowed("GET"),
        _ => text(StatusCode::NOT_FOUND, &format!("no resource at {path}: expected /whip, /whip/<id>, /metrics")),
    }
}

/// `POST /whip`: offer in, session and answer out.
async fn create(state: &State, req: Request<Incoming>) -> Result<Response<Body>, (Reject, String)> {
    if !state.authorized(&req) {
        return Err((Reject::Unauthorized, unauthorized_message()));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/sdp") {
        let got = if content_type.is_empty() { "none".to_string() } else { format!("{content_type:?}") };
        return Err((Reject::UnsupportedMediaType, format!("Content-Type {got}: expected application/sdp")));
    }
    let body = read_body(req.into_body(), state.config.max_body_bytes).await?;
    let offer = offer::validate_bytes(&body).map_err(|e| (Reject::InvalidOffer, e.to_string()))?;
    let slot = state.slots.clone().try_acquire_owned().map_err(|_| {
        let max = state.config.max_sessions;
        (Reject::Capacity, format!("all {max} session slots are in use; retry in {RETRY_AFTER_S} s"))
    })?;

    let id = state.new_id();
    let (session, answer) = Session::start(id.clone(), state.config.clone(), offer).await.map_err(|e| match e {
        SessionError::Unacceptable(message) => (Reject::Unacceptable, message),
        SessionError::Internal(_) => (Reject::Internal, e.to_string()),
    })?;
    state.sessions().insert(id.clone(), Live { session, _slot: slot });
    state.started.fetch_add(1, Ordering::Relaxed);

    let mut response = Response::new(Full::new(Bytes::from(answer)));
    *response.status_mut() = StatusCode::CREATED;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    let location = HeaderValue::try_from(format!("/whip/{id}")).map_err(|e| (Reject::Internal, e.to_string()))?;
    headers.insert(header::LOCATION, location);
    Ok(response)
}

/// Reads at most `max` bytes; a larger body is a 413 (read on up to [`DRAIN_BYTES`] so the
/// client, still sending, can read the response).
async fn read_body(mut body: Incoming, max: usize) -> Result<Bytes, (Reject, String)> {
    match Limited::new(&mut body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => {
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                let mut left = DRAIN_BYTES;
                while let Some(Ok(frame)) = body.frame().await {
                    let len = frame.data_ref().map_or(0, Bytes::len);
                    let Some(rest) = left.checked_sub(len) else { break };
                    left = rest;
                }
            })
            .await;
            Err((Reject::BodyTooLarge, format!("request body is over {max} bytes: an SDP offer is a few kB")))
        }
        Err(e) => Err((Reject::UnreadableBody, format!("cannot read the request body: {e}"))),
    }
}

/// `DELETE /whip/<id>`.
async fn delete(state: &State, id: &str) -> Response<Body> {
    let removed = state.sessions().remove(id);
    match removed {
        Some(live) => {
            live.session.close().await;
            text(StatusCode::OK, "")
        }
        None => unknown_session(id),
    }
}

/// `GET /whip/<id>/trace`.
fn trace(state: &State, id: &str) -> Response<Body> {
    let Some(session) = state.session(id) else { return unknown_session(id) };
    match serde_json::to_vec(&session.trace()) {
        Ok(json) => {
            let mut response = Response::new(Full::new(Bytes::from(json)));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("session {id}: trace is not serialisable: {e}")),
    }
}

/// `GET /metrics`: agent counters plus every numeric `SessionMetrics` field per live session.
fn metrics(state: &State) -> Response<Body> {
    let sessions: Vec<(String, Arc<Session>)> =
        state.sessions().iter().map(|(id, live)| (id.clone(), live.session.clone())).collect();
    let started = state.started.load(Ordering::Relaxed) as f64;
    let mut families = vec![
        Family::new("jitterbug_agent_sessions_active", "Live sessions.", Kind::Gauge)
            .sample(&[], sessions.len() as f64),
        Family::new("jitterbug_agent_sessions_started_total", "Sessions answered with 201.", Kind::Counter)
            .sample(&[], started),
    ];
    let mut rejected =
        Family::new("jitterbug_agent_sessions_rejected_total", "POST /whip refused, by reason.", Kind::Counter);
    for reason in Reject::ALL {
        rejected = rejected
            .sample(&[("reason", reason.label())], state.rejected[reason as usize].load(Ordering::Relaxed) as f64);
    }
    families.push(rejected);

    let mut per_field: BTreeMap<String, Family> = BTreeMap::new();
    for (id, session) in &sessions {
        let Ok(fields) = serde_json::to_value(session.metrics()) else { continue };
        for (field, value, kind) in prometheus::numeric_fields(&fields) {
            let family = per_field.remove(&field).unwrap_or_else(|| {
                let help = format!("SessionMetrics::{field} of each live session.");
                Family::new(format!("jitterbug_agent_session_{field}"), help, kind)
            });
            per_field.insert(field, family.sample(&[("session", id)], value));
        }
    }
    families.extend(per_field.into_values());

    let mut response = Response::new(Full::new(Bytes::from(prometheus::render(&families))));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(prometheus::CONTENT_TYPE));
    response
}

/// Closes sessions nobody has touched for `idle_timeout` (a caller that vanished without DELETE).
async fn reap_idle(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let idle = state.config.idle_timeout;
    let mut tick = tokio::time::interval((idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped(&mut stop) => return,
        }
        let now = Instant::now();
        let expired: Vec<Live> = {
            let mut sessions = state.sessions();
            let ids: Vec<String> = sessions
                .iter()
                .filter(|(_, live)| now.saturating_duration_since(live.session.last_activity()) > idle)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for live in expired {
            live.session.close().await;
        }
    }
}

/// Resolves once shutdown is signalled (or the agent is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(message.to_string())));
    *response.status_mut() = status;
    if !message.is_empty() {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    response
}

fn unauthorized_message() -> String {
    "missing or wrong bearer token: expected Authorization: Bearer <token>".into()
}

fn unauthorized() -> Response<Body> {
    Reject::Unauthorized.response(&unauthorized_message())
}

fn unknown_session(id: &str) -> Response<Body> {
    text(StatusCode::NOT_FOUND, &format!("no session {id:?} (never created, ended or timed out)"))
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, &format!("method not allowed here: expected {allow}"));
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
