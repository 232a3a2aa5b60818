//! A WHIP client (RFC 9725) for driving a live agent: post an offer, read the answer and the
//! session URL, fetch the session trace, end the session. One HTTPS connection per request
//! (signalling is three requests a call), hyper's HTTP/1 client over rustls; no system trust
//! store: the agent's CA is trusted explicitly, or, on loopback only, nothing is checked.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Connect, handshake, request and response together must fit in this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error body goes into [`WhipError::Status`].
const MAX_MESSAGE_CHARS: usize = 500;

/// Which server certificates to accept.
#[derive(Debug, Clone)]
pub enum Trust {
    /// CA certificates in a PEM file (e.g. the agent's `--ca-out`).
    Ca(PathBuf),
    /// CA certificates as PEM text (an in-process agent's `ca_pem()`).
    CaPem(String),
    /// Any certificate: only for a loopback host, where nobody can sit in the middle.
    Insecure,
}

/// The agent's reply to an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhipAnswer {
    pub sdp: String,
    /// The session's URL (`Location`, made absolute).
    pub location: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WhipError {
    #[error("{url}: not a usable WHIP URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "{url}: insecure mode (no certificate check) is only allowed for localhost or a loopback IP; \
         trust the agent's CA instead (--ca FILE)"
    )]
    InsecureNotLoopback { url: String },
    #[error("{url}: cannot set up TLS: {reason}")]
    TlsSetup { url: String, reason: String },
    #[error("{url}: cannot connect: {source}")]
    Connect {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: TLS handshake failed: {source}")]
    Tls {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: HTTP exchange failed: {source}")]
    Http {
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{url}: cannot build the request: {reason}")]
    InvalidRequest { url: String, reason: String },
    #[error("{url}: no response within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{method} {url}: HTTP {status}: {message}")]
    Status { method: Method, url: String, status: u16, message: String },
    #[error("{url}: unexpected response: {reason}")]
    BadResponse { url: String, reason: String },
}

/// Talks to one WHIP endpoint with one bearer token.
#[derive(Clone)]
pub struct WhipClient {
    /// The endpoint as given, for messages.
    url: String,
    /// `host[:port]` as given, for the `Host` header and absolute URLs.
    authority: String,
    /// Host without IPv6 brackets, for connecting.
    host: String,
    port: u16,
    path: String,
    token: String,
    server_name: ServerName<'static>,
    connector: TlsConnector,
}

impl WhipClient {
    /// Checks `url` (`https://host[:port]/path`) and prepares TLS; no network traffic.
    pub fn new(url: &str, token: &str, trust: Trust) -> Result<WhipClient, WhipError> {
        let bad_url = |reason: &str| WhipError::BadUrl { url: url.to_string(), reason: reason.to_string() };
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad_url(&e.to_string()))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad_url("expected an https:// URL (the agent only speaks HTTPS)"));
        }
        let authority = uri.authority().ok_or_else(|| bad_url("no host"))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
        let server_name = ServerName::try_from(host.clone()).map_err(|e| bad_url(&format!("host {host:?}: {e}")))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();

        let tls_err = |reason: String| WhipError::TlsSetup { url: url.to_string(), reason };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(e.to_string()))?;
        let mut config = match trust {
            Trust::Ca(file) => {
                let certs = CertificateDer::pem_file_iter(&file)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| tls_err(format!("{}: {e}", file.display())))?;
                let roots = roots(certs).map_err(|e| tls_err(format!("{}: {e}", file.display())))?;
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::CaPem(pem) => {
                let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| tls_err(format!("CA PEM: {e}")))?;
                let roots = roots(certs).map_err(|e| tls_err(format!("CA PEM: {e}")))?;
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::Insecure if is_loopback(&host) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth(),
            Trust::Insecure => return Err(WhipError::InsecureNotLoopback { url: url.to_string() }),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        Ok(WhipClient {
            url: url.to_string(),
            authority: authority.as_str().to_string(),
            host,
            port: authority.port_u16().unwrap_or(443),
            path,
            token: token.to_string(),
            server_name,
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// `POST`s an offer; expects `201 Created` with an SDP answer and a `Location`.
    pub async fn post_offer(&self, sdp: &str) -> Result<WhipAnswer, WhipError> {
        let method = Method::POST;
        let body = sdp.as_bytes().to_vec();
        let (status, headers, body) =
            self.request(method.clone(), &self.path, Some("application/sdp"), body, Some(&self.token)).await?;
        let url = &self.url;
        let body = self.success(&method, url, status, body)?;
        let bad = |reason: String| WhipError::BadResponse { url: url.clone(), reason };
        if status != 201 {
            return Err(bad(format!("HTTP {status}, expected 201 Created")));
        }
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad("201 without a usable Location header".into()))?;
        let location = format!("https://{}{}", self.authority, self.session_path(location)?);
        let sdp = String::from_utf8(body).map_err(|_| bad("answer is not UTF-8".into()))?;
        Ok(WhipAnswer { sdp, location })
    }

    /// Ends the session at `location` (a URL or path from [`WhipAnswer::location`]).
    pub async fn delete(&self, location: &str) -> Result<(), WhipError> {
        let path = self.session_path(location)?;
        let (status, _, body) = self.request(Method::DELETE, &path, None, Vec::new(), Some(&self.token)).await?;
        self.success(&Method::DELETE, &self.absolute(&path), status, body).map(drop)
    }

    /// The agent's trace of the session at `location` (the reference agent's contract).
    pub async fn get_trace(&self, location: &str) -> Result<jitterbug_core::agent_trace::AgentTrace, WhipError> {
        let path = format!("{}/trace", self.session_path(location)?);
        let (status, _, body) = self.request(Method::GET, &path, None, Vec::new(), Some(&self.token)).await?;
        let url = self.absolute(&path);
        let body = self.success(&Method::GET, &url, status, body)?;
        serde_json::from_slice(&body)
            .map_err(|e| WhipError::BadResponse { url, reason: format!("not an agent trace: {e}") })
    }

    /// One raw request on a fresh connection; any status is returned as is (tests use this to
    /// send what a well-behaved client would not).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        token: Option<&str>,
    ) -> Result<(u16, HeaderMap, Vec<u8>), WhipError> {
        let url = self.absolute(path);
        let invalid = |reason: String| WhipError::InvalidRequest { url: url.clone(), reason };
        let mut builder = Request::builder().method(method).uri(path).header(header::HOST, &self.authority);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = builder.body(Full::new(Bytes::from(body))).map_err(|e| invalid(e.to_string()))?;
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(&url, request))
            .await
            .map_err(|_| WhipError::Timeout { url: url.clone(), after: REQUEST_TIMEOUT })?
    }

    async fn exchange(&self, url: &str, request: Request<Full<Bytes>>) -> Result<(u16, HeaderMap, Vec<u8>), WhipError> {
        let http = |source| WhipError::Http { url: url.to_string(), source };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| WhipError::Connect { url: url.to_string(), source })?;
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|source| WhipError::Tls { url: url.to_string(), source })?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(tls)).await.map_err(http)?;
        // The connection ends once `sender` is dropped; its errors surface through `send_request`.
        tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(http)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(http)?.to_bytes().to_vec();
        Ok((parts.status.as_u16(), parts.headers, body))
    }

    /// `body` when `status` is 2xx, else a [`WhipError::Status`] carrying the server's message.
    fn success(&self, method: &Method, url: &str, status: u16, body: Vec<u8>) -> Result<Vec<u8>, WhipError> {
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let mut message: String = text.trim().chars().take(MAX_MESSAGE_CHARS).collect();
        if message.is_empty() {
            message = "(no message)".into();
        } else if text.trim().chars().count() > MAX_MESSAGE_CHARS {
            message.push('…');
        }
        Err(WhipError::Status { method: method.clone(), url: url.to_string(), status, message })
    }

    /// The path of a session URL, which must be on this client's origin (the token and the
    /// trust settings are for this server only).
    fn session_path(&self, location: &str) -> Result<String, WhipError> {
        if location.starts_with('/') {
            return Ok(location.to_string());
        }
        let foreign =
            || WhipError::BadUrl { url: location.to_string(), reason: format!("not a path on {}", self.authority) };
        let uri: Uri = location.parse().map_err(|_| foreign())?;
        let same_origin = uri.scheme_str() == Some("https")
            && uri.authority().is_some_and(|a| {
                a.host().trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(&self.host)
                    && a.port_u16().unwrap_or(443) == self.port
            });
        if !same_origin {
            return Err(foreign());
        }
        Ok(uri.path().to_string())
    }

    fn absolute(&self, path: &str) -> String {
        format!("https://{}{}", self.authority, path)
    }
}

fn roots(certs: Vec<CertificateDer<'static>>) -> Result<RootCertStore, String> {
    if certs.is_empty() {
        return Err("no CERTIFICATE blocks".into());
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// `localhost` or a loopback IP literal; decided without DNS.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Accepts any certificate but still checks handshake signatures (so the session keys belong
/// to whoever presented the certificate). Only built for loopback hosts.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
