//! coturn (Debian's `turnserver`) on loopback for profiles that need TURN: started per call
//! with long-term credentials in a scratch directory, stopped by PID when dropped.
//!
//! coturn refuses to relay to loopback peers unless told `--allow-loopback-peers` (a channel
//! bind then fails with 403 Forbidden IP); TLS and DTLS listeners are off (the native client's
//! TURN is UDP; browsers' TCP/TLS TURN needs the certificate options as well).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::client::TurnServer;

pub const USER: &str = "jitterbug";
pub const PASSWORD: &str = "jitterbug-turn-secret";
pub const REALM: &str = "jitterbug.test";

pub struct Coturn {
    child: Child,
    pub server: TurnServer,
    pub log: PathBuf,
    _scratch: tempfile::TempDir,
}

/// A free UDP port on 127.0.0.1 (bound and released: coturn binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Coturn {
    /// Starts `turnserver` on 127.0.0.1 and waits until it answers a STUN binding request.
    pub fn start() -> anyhow::Result<Coturn> {
        let scratch = tempfile::Builder::new().prefix("jitterbug-coturn-").tempdir()?;
        let port = free_port()?;
        let relay_min = 50_000 + (port % 500) * 20;
        let log = scratch.path().join("turn.log");
        let mut child = Command::new("turnserver")
            .args(["-n", "--no-cli", "--simple-log", "--no-tls", "--no-dtls", "--no-software-attribute"])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--allow-loopback-peers"])
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
            if stun_answers(addr) {
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
