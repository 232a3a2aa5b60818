//! coturn (Debian's `turnserver`) on loopback for profiles that need TURN: started per call
//! with long-term credentials in a scratch directory, stopped by PID when dropped.
//!
//! coturn refuses to relay to loopback peers unless told `--allow-loopback-peers` (a channel
//! bind then fails with 403 Forbidden IP). UDP and TCP listen on one port; the TLS listener
//! (browsers' `turns:`) is opt-in, with a leaf from a throwaway CA that the browser is told to
//! trust. DTLS is off: no browser speaks TURN over DTLS.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;

use super::client::TurnServer;

pub const USER: &str = "jitterbug";
pub const PASSWORD: &str = "jitterbug-turn-secret";
pub const REALM: &str = "jitterbug.test";

pub struct Coturn {
    child: Child,
    pub server: TurnServer,
    pub tls: Option<TlsListener>,
    pub log: PathBuf,
    _scratch: tempfile::TempDir,
}

/// coturn's TURN-over-TLS listener and what a client needs to trust its certificate.
pub struct TlsListener {
    pub addr: SocketAddr,
    /// The throwaway CA that signed the listener's certificate (names: localhost, 127.0.0.1).
    pub ca_pem: String,
    /// base64(SHA-256(leaf SubjectPublicKeyInfo)): Chromium's `--ignore-certificate-errors-spki-list`.
    pub spki_sha256_b64: String,
}

/// A port on 127.0.0.1 free for UDP and TCP a moment ago (coturn binds it right after).
fn free_port() -> anyhow::Result<u16> {
    loop {
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
}

impl Coturn {
    /// Starts `turnserver` (UDP and TCP) on 127.0.0.1 and waits until it answers STUN.
    pub fn start() -> anyhow::Result<Coturn> {
        Coturn::launch(false)
    }

    /// As [`Coturn::start`], plus a TLS listener with a certificate from a throwaway CA.
    pub fn start_with_tls() -> anyhow::Result<Coturn> {
        Coturn::launch(true)
    }

    fn launch(with_tls: bool) -> anyhow::Result<Coturn> {
        let scratch = tempfile::Builder::new().prefix("jitterbug-coturn-").tempdir()?;
        let port = free_port()?;
        let relay_min = 50_000 + (port % 500) * 20;
        let log = scratch.path().join("turn.log");
        let mut command = Command::new("turnserver");
        command.args(["-n", "--no-cli", "--simple-log", "--no-dtls", "--no-software-attribute"]).args([
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            "--allow-loopback-peers",
        ]);
        let tls = if with_tls {
            let pki = jitterbug_agent::tls::test_pki(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .context("generating coturn's TLS certificate")?;
            let (cert, key) = (scratch.path().join("turn-chain.pem"), scratch.path().join("turn-key.pem"));
            std::fs::write(&cert, &pki.chain_pem)?;
            std::fs::write(&key, &pki.key_pem)?;
            let tls_port = free_port()?;
            command
                .arg(format!("--tls-listening-port={tls_port}"))
                .arg(format!("--cert={}", cert.display()))
                .arg(format!("--pkey={}", key.display()));
            let digest = ring::digest::digest(&ring::digest::SHA256, &pki.leaf_spki_der);
            Some(TlsListener {
                addr: SocketAddr::from(([127, 0, 0, 1], tls_port)),
                ca_pem: pki.ca_pem,
                spki_sha256_b64: base64::engine::general_purpose::STANDARD.encode(digest.as_ref()),
            })
        } else {
            command.arg("--no-tls");
            None
        };
        let mut child = command
            .arg(format!("--listening-port={port}"))
            .arg(format!("--min-port={relay_min}"))
            .arg(format!("--max-port={}", relay_min + 19))
            .args(["--lt-cred-mech", "--fingerprint"])
            .arg(format!("--user={USER}:{PASSWORD}"))
            .arg(format!("--realm={REALM}"))
            .arg(format!("--db={}", scratch.path().join("turndb").display()))
            .arg(format!("--pidfile={}", scratch.path().join("turnserver.pid").display()))
            .arg(format!("--log-file={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting turnserver (Debian package `coturn`; scripts/deps.sh installs it)")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                bail!("turnserver exited with {status} at start-up; its log ends:\n{}", last_lines(&tail, 15));
            }
            let tls_up = tls.as_ref().is_none_or(|t| TcpStream::connect(t.addr).is_ok());
            if tls_up && stun_answers(addr) {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("turnserver did not answer STUN on {addr} within 10 s (log: {})", log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Coturn {
            child,
            server: TurnServer { addr, username: USER.into(), password: PASSWORD.into() },
            tls,
            log,
            _scratch: scratch,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sends one STUN binding request and waits 200 ms for any answer.
fn stun_answers(addr: SocketAddr) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else { return false };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    // Binding request, no attributes, magic cookie, fixed transaction id.
    let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    req.extend_from_slice(b"jitterbug-up");
    if sock.send_to(&req, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    sock.recv_from(&mut buf).is_ok()
}
