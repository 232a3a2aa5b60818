//! The userspace impairment relay: real UDP on loopback through the same impairment and NAT
//! cores the simulator uses, in real time.
//!
//! The agent advertises the relay's address (`--advertise-ip`, port preserved), so every
//! datagram of the call crosses it: client (or TURN server) → `listen` → impairment (uplink)
//! → NAT → an upstream socket → agent, and back. Datagrams are told apart per RFC 7983; the
//! impairment's random streams see RTP only, in order, as in the simulator, so the same seed
//! drops the same RTP packets live and simulated. STUN, DTLS and RTCP take the profile's base
//! delay but no random impairment.
//!
//! The relay measures itself: how late each delivery left against its scheduled time, and the
//! host's load average. A run whose timer was late by more than [`MAX_TIMER_LATE_P99`] at p99
//! is marked invalid: the delays it shows would be the host's, not the profile's.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use jitterbug_core::impairment::Direction;
use jitterbug_core::nat::{Inbound, Nat, NatConfig, Outbound};
use jitterbug_core::path::{Kind, Output, PacketPath, PathReport, Policy, classify};
use jitterbug_core::profile::Profile;
use jitterbug_core::results::NetworkCounters;
use jitterbug_core::time::Timestamp;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::pcap::Datagram;

/// The relay listens here (the agent advertises it, port preserved).
pub const RELAY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The relay's upstream sockets (the client NAT's public side) bind here.
pub const RELAY_UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Timer lateness (99th percentile) beyond which a live run says nothing about the network:
/// half a 20 ms frame, where lateness starts to reorder packets and to make them late at a
/// jitter buffer. The timer's own granularity (tokio's 1 ms wheel) costs about 2 ms at p99 on
/// an idle host; a browser call on 2 cores reaches about 5 ms.
pub const MAX_TIMER_LATE_P99: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where clients send: the agent's advertised address (same port as the agent's socket).
    pub listen: SocketAddr,
    /// The agent's real media address.
    pub upstream: SocketAddr,
    /// Address the relay's upstream sockets bind to (the client NAT's public side).
    pub upstream_ip: IpAddr,
    pub profile: Profile,
    pub seed: u64,
}

/// Datagram counts per kind and direction.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindCounts {
    pub stun: u64,
    pub dtls: u64,
    pub rtp: u64,
    pub rtcp: u64,
    pub other: u64,
}

impl KindCounts {
    pub(crate) fn add(&mut self, k: Kind) {
        *match k {
            Kind::Stun => &mut self.stun,
            Kind::Dtls => &mut self.dtls,
            Kind::Rtp => &mut self.rtp,
            Kind::Rtcp => &mut self.rtcp,
            Kind::Other => &mut self.other,
        } += 1;
    }
}

/// How the relay's own clock kept up.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimerHealth {
    pub deliveries: u64,
    pub late_p50_ms: f64,
    pub late_p99_ms: f64,
    pub late_max_ms: f64,
    /// 1-minute load average at the start and the end, and the CPUs it is out of.
    pub loadavg_start: Option<f64>,
    pub loadavg_end: Option<f64>,
    pub cpus: usize,
    /// `None` when the run is valid; otherwise why not.
    pub invalid: Option<String>,
}

/// What a relay saw and did, for the result and the test assertions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayReport {
    /// Wall-clock time of the path's zero (the capture's times are since then), ns since the
    /// UNIX epoch.
    pub started_unix_ns: u64,
    pub received_uplink: KindCounts,
    pub received_downlink: KindCounts,
    /// RTP through the impairment, per direction (same counters as the simulator's).
    pub rtp_uplink: NetworkCounters,
    pub rtp_downlink: NetworkCounters,
    /// Distinct (SSRC, sequence) RTP packets seen per direction.
    pub rtp_distinct_uplink: u64,
    pub rtp_distinct_downlink: u64,
    pub nat_drops: u64,
    pub nat_bindings: usize,
    /// Duplicates the profile asked for that the path could not send (NFQUEUE passes or drops).
    pub duplicates_not_applied: u64,
    /// UDP flows the kernel NAT translated (netns backend; the relay's NAT is modelled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nat_mappings: Vec<NatMapping>,
    pub timer: TimerHealth,
    #[serde(skip)]
    pub capture: Vec<Datagram>,
}

/// One flow through a NAT: the client's address, the public address it was given, the peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatMapping {
    pub internal: SocketAddr,
    pub public: SocketAddr,
    pub remote: SocketAddr,
}

pub struct Relay {
    pub listen: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<RelayReport>,
}

impl Relay {
    /// Binds the relay and starts forwarding.
    pub async fn start(config: RelayConfig) -> std::io::Result<Relay> {
        let socket = Arc::new(UdpSocket::bind(config.listen).await?);
        let listen = socket.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(config, socket, stop_rx));
        Ok(Relay { listen, stop: Some(stop_tx), task })
    }

    /// Stops forwarding (what is still in flight is dropped) and returns the report.
    pub async fn finish(mut self) -> RelayReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap_or_default()
    }
}

/// Which socket a datagram leaves from.
#[derive(Debug, Clone)]
enum Via {
    Listen,
    Upstream(Arc<UdpSocket>),
}

/// Where a datagram in flight goes: out of which socket, to whom.
#[derive(Debug, Clone)]
struct Route {
    via: Via,
    to: SocketAddr,
}

/// An upstream socket standing for one NAT binding.
struct Binding {
    socket: Arc<UdpSocket>,
    /// The NAT model's public address for it.
    public: SocketAddr,
}

struct State {
    config: RelayConfig,
    start: Instant,
    listen: Arc<UdpSocket>,
    path: PacketPath<Route>,
    nat: Option<Nat>,
    bindings: HashMap<SocketAddr, Binding>,
    by_public: HashMap<SocketAddr, SocketAddr>,
    report: RelayReport,
    lateness: Vec<f64>,
    upstream_rx: mpsc::UnboundedSender<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Readers of the upstream sockets, stopped with the relay (they hold the sockets).
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl State {
    fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }

    /// `i` on the path's clock (zero when the relay started).
    fn at(&self, i: Instant) -> Timestamp {
        Timestamp::from_nanos(i.saturating_duration_since(self.start).as_nanos() as u64)
    }

    async fn on_client(&mut self, from: SocketAddr, bytes: Vec<u8>) {
        let kind = classify(&bytes);
        self.report.received_uplink.add(kind);
        let now = self.now();
        let upstream = self.config.upstream;
        let public = match &mut self.nat {
            None => from,
            Some(nat) => match nat.outbound(now, from, upstream) {
                Outbound::Forward { src, .. } => src,
                Outbound::Hairpin { .. } | Outbound::Drop(_) => {
                    self.report.nat_drops += 1;
                    return;
                }
            },
        };
        let socket = match self.bindings.get(&public) {
            Some(b) => b.socket.clone(),
            None => match self.bind_upstream(public).await {
                Some(s) => s,
                None => return,
            },
        };
        self.path.handle_input(
            self.now(),
            Direction::Uplink,
            bytes,
            Route { via: Via::Upstream(socket), to: upstream },
        );
    }

    async fn bind_upstream(&mut self, public: SocketAddr) -> Option<Arc<UdpSocket>> {
        let socket = Arc::new(UdpSocket::bind(SocketAddr::new(self.config.upstream_ip, 0)).await.ok()?);
        let local = socket.local_addr().ok()?;
        let reader = socket.clone();
        let tx = self.upstream_rx.clone();
        self.readers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = reader.recv_from(&mut buf).await {
                if tx.send((local, from, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }));
        self.by_public.insert(local, public);
        self.bindings.insert(public, Binding { socket: socket.clone(), public });
        Some(socket)
    }

    fn on_agent(&mut self, local: SocketAddr, from: SocketAddr, bytes: Vec<u8>) {
        let kind = classify(&bytes);
        self.report.received_downlink.add(kind);
        let Some(&public) = self.by_public.get(&local) else { return };
        let now = self.now();
        let client = match &mut self.nat {
            None => public,
            Some(nat) => match nat.inbound(now, from, public) {
                Inbound::Forward { dst } => dst,
                Inbound::Drop(_) => {
                    self.report.nat_drops += 1;
                    return;
                }
            },
        };
        debug_assert!(self.bindings.get(&public).is_some_and(|b| b.public == public));
        self.path.handle_input(now, Direction::Downlink, bytes, Route { via: Via::Listen, to: client });
    }

    /// Sends every copy due by now; returns when the next one is due.
    async fn deliver_due(&mut self) -> Option<Instant> {
        loop {
            let now = Instant::now();
            let d = match self.path.poll_output(self.at(now)) {
                Output::Deliver(d) => d,
                Output::Timeout(at) => return Some(self.start + (at - Timestamp::ZERO)),
                Output::Idle => return None,
            };
            self.lateness.push(self.at(now).saturating_since(d.at).as_secs_f64() * 1e3);
            let socket = match &d.tag.via {
                Via::Listen => &self.listen,
                Via::Upstream(s) => s,
            };
            let src = socket.local_addr().unwrap_or(self.config.listen);
            if socket.send_to(&d.bytes, d.tag.to).await.is_ok() {
                self.report.capture.push(Datagram {
                    at: now.duration_since(self.start),
                    src,
                    dst: d.tag.to,
                    bytes: d.bytes,
                    corrupted: d.corrupted,
                });
            }
        }
    }
}

async fn run(config: RelayConfig, listen: Arc<UdpSocket>, mut stop: oneshot::Receiver<()>) -> RelayReport {
    let setup = config.profile.nat;
    let nat = NatConfig::for_type(setup.client).map(|c| {
        let c = NatConfig {
            port_preservation: setup.port_preservation,
            hairpinning: setup.hairpinning,
            binding_lifetime: Duration::from_secs_f64(setup.binding_lifetime_s),
            ..c
        };
        Nat::new(c, config.upstream_ip, config.seed)
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut st = State {
        path: PacketPath::new(&config.profile, config.seed, Policy::RtpImpaired),
        nat,
        config,
        start: Instant::now(),
        listen: listen.clone(),
        bindings: HashMap::new(),
        by_public: HashMap::new(),
        report: RelayReport { started_unix_ns: unix_now_ns(), ..RelayReport::default() },
        lateness: Vec::new(),
        upstream_rx: tx,
        readers: Vec::new(),
    };
    let loadavg_start = loadavg();
    let mut buf = vec![0u8; 2048];
    let mut next = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            r = listen.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    st.on_client(from, buf[..n].to_vec()).await;
                }
            }
            Some((local, from, bytes)) = rx.recv() => st.on_agent(local, from, bytes),
            _ = sleep_until(next) => {}
        }
        next = st.deliver_due().await;
    }
    finish(st, loadavg_start)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Now, ns since the UNIX epoch.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn finish(mut st: State, loadavg_start: Option<f64>) -> RelayReport {
    for r in st.readers.drain(..) {
        r.abort();
    }
    let timer = TimerHealth::from_lateness(std::mem::take(&mut st.lateness), loadavg_start, "relay timer");
    let mut report = std::mem::take(&mut st.report);
    report.set_path(&st.path.report());
    report.nat_bindings = st.bindings.len();
    report.timer = timer;
    report
}

impl RelayReport {
    /// The shared path's counters, in the report's fields.
    pub fn set_path(&mut self, p: &PathReport) {
        self.rtp_uplink = p.rtp.uplink;
        self.rtp_downlink = p.rtp.downlink;
        self.rtp_distinct_uplink = p.rtp_distinct.uplink;
        self.rtp_distinct_downlink = p.rtp_distinct.downlink;
    }
}

impl TimerHealth {
    /// Percentiles of how late each delivery was (ms), and the verdict on the run: `what`
    /// (the relay's timer, the router's verdicts) names the clock in the reason.
    pub fn from_lateness(mut late: Vec<f64>, loadavg_start: Option<f64>, what: &str) -> TimerHealth {
        late.sort_by(f64::total_cmp);
        let q = |p: f64| if late.is_empty() { 0.0 } else { late[((late.len() - 1) as f64 * p).round() as usize] };
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut timer = TimerHealth {
            deliveries: late.len() as u64,
            late_p50_ms: q(0.5),
            late_p99_ms: q(0.99),
            late_max_ms: late.last().copied().unwrap_or(0.0),
            loadavg_start,
            loadavg_end: loadavg(),
            cpus,
            invalid: None,
        };
        if timer.late_p99_ms > MAX_TIMER_LATE_P99.as_secs_f64() * 1e3 {
            timer.invalid = Some(format!(
                "{what} late by {:.1} ms at p99 (limit {} ms); load average {:.2} on {cpus} CPUs: the host, not the profile, shaped this run",
                timer.late_p99_ms,
                MAX_TIMER_LATE_P99.as_millis(),
                timer.loadavg_end.unwrap_or(f64::NAN)
            ));
        }
        timer
    }
}

/// The 1-minute load average.
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}
