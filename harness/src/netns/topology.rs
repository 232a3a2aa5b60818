//! Three network namespaces per call — client, router, server — joined by two veth pairs, as
//! in docs/network-emulation.md: the client on 100.64.I.0/24, the server on
//! 198.18.I.0/24, the router between them forwarding with no default route (nothing can leave
//! for the host's own network). Deleted, with every process still inside, when dropped.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetnsError {
    #[error("network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN); run as root: {0}")]
    NotRoot(String),
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("cannot run `{program}` (Debian package `{package}`): {source}")]
    Spawn {
        program: String,
        package: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot enter namespace {name}: {source}")]
    Enter {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// Which of the three namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Router,
    Server,
}

/// The router's client-facing and server-facing veths (rules match on these names).
pub const ROUTER_CLIENT_IF: &str = "rc";
pub const ROUTER_SERVER_IF: &str = "rs";

/// One client–router–server topology.
#[derive(Debug)]
pub struct Topology {
    prefix: String,
    index: u8,
}

static NEXT_INDEX: AtomicU32 = AtomicU32::new(0);
/// Prefixes of the topologies that exist now, for [`delete_all`] on a signal (work dropped by
/// Ctrl-C may sit in a blocking thread that never runs its destructors).
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Deletes every topology this process still has (and kills what runs inside them).
pub fn delete_all() {
    let prefixes = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for prefix in prefixes {
        teardown(&prefix);
    }
}

impl Topology {
    /// Creates the namespaces, links, addresses and routes. Names start with
    /// `jb<pid>x<index>` so that runs on a shared machine never touch each other's.
    pub fn create() -> Result<Topology, NetnsError> {
        let index = (NEXT_INDEX.fetch_add(1, Ordering::Relaxed) % 250) as u8;
        let topology = Topology { prefix: format!("jb{}x{index}", std::process::id()), index };
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(topology.prefix.clone());
        // Half-built topologies are deleted by Drop as well.
        topology.build()?;
        Ok(topology)
    }

    fn build(&self) -> Result<(), NetnsError> {
        let (c, r, s) = (self.name(Side::Client), self.name(Side::Router), self.name(Side::Server));
        let i = self.index;
        for ns in [&c, &r, &s] {
            ip(&["netns", "add", ns]).map_err(|e| match e {
                NetnsError::Command { stderr, .. } if stderr.contains("Operation not permitted") => {
                    NetnsError::NotRoot(stderr)
                }
                e => e,
            })?;
        }
        ip(&["link", "add", "name", "c0", "netns", &c, "type", "veth", "peer", "name", ROUTER_CLIENT_IF, "netns", &r])?;
        ip(&["link", "add", "name", "s0", "netns", &s, "type", "veth", "peer", "name", ROUTER_SERVER_IF, "netns", &r])?;
        ip(&["-n", &c, "addr", "add", &format!("{}/24", self.client_ip()), "dev", "c0"])?;
        ip(&["-n", &r, "addr", "add", &format!("100.64.{i}.1/24"), "dev", ROUTER_CLIENT_IF])?;
        ip(&["-n", &r, "addr", "add", &format!("{}/24", self.router_public_ip()), "dev", ROUTER_SERVER_IF])?;
        ip(&["-n", &s, "addr", "add", &format!("{}/24", self.server_ip()), "dev", "s0"])?;
        for (ns, dev) in [(&c, "c0"), (&r, ROUTER_CLIENT_IF), (&r, ROUTER_SERVER_IF), (&s, "s0")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        for ns in [&c, &r, &s] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&["-n", &c, "route", "add", "default", "via", &format!("100.64.{i}.1")])?;
        // The server answers the router's public address only (it is on-link): no default
        // route anywhere but the client's, which points at the router.
        run("ip", "iproute2", &["netns", "exec", &r, "sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        Ok(())
    }

    pub fn name(&self, side: Side) -> String {
        let tag = match side {
            Side::Client => 'c',
            Side::Router => 'r',
            Side::Server => 's',
        };
        format!("{}{tag}", self.prefix)
    }

    pub fn client_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(100, 64, self.index, 2)
    }

    /// The client side's network, for a route back to it when there is no NAT.
    pub fn client_subnet(&self) -> String {
        format!("100.64.{}.0/24", self.index)
    }

    /// The router's address on the server side: what the server sees behind a NAT.
    pub fn router_public_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.index, 1)
    }

    pub fn server_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.index, 2)
    }

    /// Runs `program args` inside `side`'s namespace and waits for it.
    pub fn exec(&self, side: Side, program: &str, package: &'static str, args: &[&str]) -> Result<String, NetnsError> {
        let ns = self.name(side);
        let mut full = vec!["netns", "exec", ns.as_str(), program];
        full.extend_from_slice(args);
        run("ip", package, &full)
    }

    /// Runs `f` on a new OS thread inside `side`'s namespace: sockets it opens (and threads and
    /// processes it starts) live there. The rest of the process stays where it was.
    pub fn spawn_in<T: Send + 'static>(
        &self,
        side: Side,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<Result<T, NetnsError>>, NetnsError> {
        let name = self.name(side);
        let path = format!("/run/netns/{name}");
        let file = std::fs::File::open(&path).map_err(|source| NetnsError::Enter { name: name.clone(), source })?;
        std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                use std::os::fd::AsRawFd;
                // SAFETY: setns on a namespace file descriptor we own; it changes this thread only.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(NetnsError::Enter { name, source: std::io::Error::last_os_error() });
                }
                drop(file);
                Ok(f())
            })
            .map_err(|source| NetnsError::Enter { name: self.name(side), source })
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != self.prefix);
        teardown(&self.prefix);
    }
}

fn teardown(prefix: &str) {
    for tag in ['c', 'r', 's'] {
        let ns = format!("{prefix}{tag}");
        // Processes first: a namespace with a process in it outlives `ip netns del`.
        if let Ok(pids) = run("ip", "iproute2", &["netns", "pids", &ns]) {
            for pid in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                if pid as u32 != std::process::id() {
                    // SAFETY: plain kill(2) of a PID inside our own namespace.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = ip(&["netns", "del", &ns]);
    }
}

fn ip(args: &[&str]) -> Result<String, NetnsError> {
    run("ip", "iproute2", args)
}

/// Runs a command to completion; a non-zero exit is an error carrying its stderr.
pub fn run(program: &str, package: &'static str, args: &[&str]) -> Result<String, NetnsError> {
    let out = Command::new(program).args(args).output().map_err(|source| NetnsError::Spawn {
        program: program.to_string(),
        package,
        source,
    })?;
    if !out.status.success() {
        return Err(NetnsError::Command {
            command: format!("{program} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
