//! The page's origin: a plain-HTTP server on 127.0.0.1 (a secure context, so getUserMedia and
//! AudioWorklet work without TLS). It serves the page, its config and the clip, proxies WHIP to
//! the agent (the page never sees the agent's token or CA), and collects what the page uploads.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::config::PageConfig;
use crate::whip_client::{WhipClient, WhipError};

const INDEX_HTML: &str = include_str!("../../../browser-tests/page/index.html");
const CLIENT_JS: &str = include_str!("../../../browser-tests/page/client.js");
const CAPTURE_WORKLET_JS: &str = include_str!("../../../browser-tests/page/capture-worklet.js");

/// An SDP offer is a few kB; the agent refuses more than 64 kB anyway.
const MAX_OFFER_BYTES: usize = 64 * 1024;
/// The stats series of a long call at a short interval stays well below this.
const MAX_RESULT_BYTES: usize = 32 * 1024 * 1024;
/// About 4 minutes of 2-channel 16-bit 48 kHz audio.
const MAX_AUDIO_BYTES: usize = 50 * 1024 * 1024;

/// One WHIP session the page opened at the agent.
#[derive(Debug, Clone)]
pub struct AgentSession {
    /// The agent's session URL.
    pub location: String,
    /// The agent's trace, read just before the session was deleted (it is gone afterwards).
    pub trace: Option<jitterbug_core::agent_trace::AgentTrace>,
    pub deleted: bool,
}

#[derive(Default)]
struct Uploads {
    result: Option<serde_json::Value>,
    audio: Option<Vec<u8>>,
    sessions: Vec<AgentSession>,
}

struct Shared {
    config_json: Bytes,
    clip_wav: Bytes,
    whip: WhipClient,
    uploads: Mutex<Uploads>,
}

impl Shared {
    /// A handler that panicked mid-update leaves the uploads readable.
    fn uploads(&self) -> MutexGuard<'_, Uploads> {
        self.uploads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running server; it stops (with every open connection) when dropped.
pub struct PageServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl PageServer {
    pub async fn start(config: &PageConfig, clip_wav: Vec<u8>, whip: WhipClient) -> std::io::Result<PageServer> {
        let config_json = serde_json::to_vec(config).map_err(std::io::Error::other)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config_json: Bytes::from(config_json),
            clip_wav: Bytes::from(clip_wav),
            whip,
            uploads: Mutex::default(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(PageServer { addr, shared, task })
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The page's `/result`, once it arrived.
    pub fn take_result(&self) -> Option<serde_json::Value> {
        self.shared.uploads().result.take()
    }

    /// The page's `/audio` WAV, once it arrived.
    pub fn take_audio(&self) -> Option<Vec<u8>> {
        self.shared.uploads().audio.take()
    }

    /// Ends the agent sessions the page left open (after an error, say), keeping their traces;
    /// returns every session of the run.
    pub async fn close_sessions(&self) -> Vec<AgentSession> {
        let count = self.shared.uploads().sessions.len();
        for index in 0..count {
            // A failure shows as `deleted: false` in what is returned.
            let _ = end_session(&self.shared, index).await;
        }
        self.shared.uploads().sessions.clone()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves connections until aborted; aborting drops the `JoinSet`, which ends every connection.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    // A browser closing a keep-alive connection is not worth reporting.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let response = match (req.method().clone(), path.as_str()) {
        (Method::GET, "/" | "/index.html") => ok("text/html; charset=utf-8", Bytes::from_static(INDEX_HTML.as_bytes())),
        (Method::GET, "/client.js") => ok("text/javascript; charset=utf-8", Bytes::from_static(CLIENT_JS.as_bytes())),
        (Method::GET, "/capture-worklet.js") => {
            ok("text/javascript; charset=utf-8", Bytes::from_static(CAPTURE_WORKLET_JS.as_bytes()))
        }
        (Method::GET, "/config.json") => ok("application/json", shared.config_json.clone()),
        (Method::GET, "/clip.wav") => ok("audio/wav", shared.clip_wav.clone()),
        (Method::POST, "/whip") => post_offer(&shared, req).await,
        (Method::DELETE, p) if p.starts_with("/whip/") => delete_session(&shared, &p["/whip/".len()..]).await,
        (Method::POST, "/result") => match read_body(req, MAX_RESULT_BYTES).await {
            Ok(body) => match serde_json::from_slice(&body) {
                Ok(result) => {
                    shared.uploads().result = Some(result);
                    empty(StatusCode::NO_CONTENT)
                }
                Err(e) => text(StatusCode::BAD_REQUEST, format!("/result is not JSON: {e}")),
            },
            Err(response) => response,
        },
        (Method::POST, "/audio") => match read_body(req, MAX_AUDIO_BYTES).await {
            Ok(body) => {
                shared.uploads().audio = Some(body.to_vec());
                empty(StatusCode::NO_CONTENT)
            }
            Err(response) => response,
        },
        _ => text(StatusCode::NOT_FOUND, format!("{path}: not here")),
    };
    Ok(response)
}

/// `POST /whip`: the offer goes to the agent with the token; the answer comes back with a
/// local session path instead of the agent's URL.
async fn post_offer(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.trim().to_ascii_lowercase().starts_with("application/sdp") {
        return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("expected application/sdp, got {content_type:?}"));
    }
    let body = match read_body(req, MAX_OFFER_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok(offer) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "the offer is not UTF-8".into());
    };
    let answer = match shared.whip.post_offer(offer).await {
        Ok(answer) => answer,
        Err(e) => return proxy_error(e),
    };
    let index = {
        let mut uploads = shared.uploads();
        uploads.sessions.push(AgentSession { location: answer.location, trace: None, deleted: false });
        uploads.sessions.len() - 1
    };
    let mut response = ok("application/sdp", Bytes::from(answer.sdp));
    *response.status_mut() = StatusCode::CREATED;
    match HeaderValue::from_str(&format!("/whip/{index}")) {
        Ok(location) => {
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("session path: {e}")),
    }
}

/// `DELETE /whip/<n>`.
async fn delete_session(shared: &Shared, id: &str) -> Response<Full<Bytes>> {
    let known = id.parse::<usize>().ok().filter(|&i| i < shared.uploads().sessions.len());
    let Some(index) = known else {
        return text(StatusCode::NOT_FOUND, format!("no session {id:?}"));
    };
    match end_session(shared, index).await {
        Ok(()) => empty(StatusCode::OK),
        Err(e) => proxy_error(e),
    }
}

/// Reads the session's trace, then deletes it at the agent; a no-op once done.
async fn end_session(shared: &Shared, index: usize) -> Result<(), WhipError> {
    let location = match shared.uploads().sessions.get(index) {
        Some(session) if !session.deleted => session.location.clone(),
        _ => return Ok(()),
    };
    let trace = shared.whip.get_trace(&location).await.ok();
    let deleted = shared.whip.delete(&location).await;
    if let Some(session) = shared.uploads().sessions.get_mut(index) {
        session.trace = trace;
        session.deleted = deleted.is_ok();
    }
    deleted
}

/// The agent's status and message pass through; failing to reach it is a 502.
fn proxy_error(e: WhipError) -> Response<Full<Bytes>> {
    match e {
        WhipError::Status { status, message, .. } => {
            text(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), format!("agent: {message}"))
        }
        other => text(StatusCode::BAD_GATEWAY, format!("agent: {other}")),
    }
}

async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => {
            Err(text(StatusCode::PAYLOAD_TOO_LARGE, format!("request body over {limit} bytes")))
        }
        Err(e) => Err(text(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}"))),
    }
}

fn ok(content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn text(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = ok("text/plain; charset=utf-8", Bytes::from(message));
    *response.status_mut() = status;
    response
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
