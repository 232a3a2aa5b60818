//! One native-client call on the `netns` backend: the reference agent in the server namespace,
//! the client in the client namespace, and between them a router namespace with real Linux NAT
//! (nft) and the profile's impairment applied to forwarded packets by the NFQUEUE verdict loop.
//! Media, ICE and NAT traversal cross real kernel paths; the call itself is the one live call
//! path with an external network path, so the result has the same schema (`backend: netns`).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow, bail};
use jitterbug_core::identity::BackendKind;

use super::router::{self, RouterConfig};
use super::topology::{ROUTER_CLIENT_IF, Side, Topology};
use super::{conntrack, nat_rules};
use crate::cancel::Cancel;
use crate::live::agent::{AgentTarget, Placement, RemoteAgent, reference_config};
use crate::live::call::{CallOutput, CallSpec, ExternalPath, NetworkPath, call};
use crate::live::caller::Caller;
use crate::live::relay::RelayReport;
use crate::scenario::Scenario;
use crate::whip_client::Trust;

const QUEUE: u16 = 0;

/// Runs one native-client call; blocks the calling thread (namespaces are entered per
/// thread). What the backend cannot run yet is refused before this (`Backend::supports`).
pub fn netns_call(s: &Scenario<'_>, scratch: &Path, cancel: &Cancel) -> anyhow::Result<CallOutput> {
    let (profile, seed) = (s.profile, s.seed);
    let topology = Topology::create().context("creating the client/router/server namespaces")?;
    let router_public = topology.router_public_ip();
    match nat_rules::ruleset(profile.nat.client, router_public) {
        Some(rules) => {
            let file = scratch.join("nat.nft");
            std::fs::write(&file, rules)?;
            topology.exec(Side::Router, "nft", "nftables", &["-f", &file.display().to_string()])?;
        }
        None => {
            let (subnet, via) = (topology.client_subnet(), router_public.to_string());
            topology.exec(Side::Server, "ip", "iproute2", &["route", "add", &subnet, "via", &via])?;
        }
    }
    // Every forwarded UDP packet waits for the verdict loop (no bypass: if the loop is gone,
    // packets stop instead of flowing unimpaired).
    let queue = QUEUE.to_string();
    topology.exec(
        Side::Router,
        "iptables",
        "iptables",
        &["-A", "FORWARD", "-p", "udp", "-j", "NFQUEUE", "--queue-num", &queue],
    )?;
    let client_ifindex = ifindex(&topology, Side::Router, ROUTER_CLIENT_IF)?;

    // The router's verdict loop.
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let router_config = RouterConfig { profile: profile.clone(), seed, queue: QUEUE, client_ifindex };
    let router_stop = stop.clone();
    let router = topology.spawn_in(Side::Router, move || {
        router::run(router_config, router_stop, move || {
            let _ = ready_tx.send(());
        })
    })?;
    if ready_rx.recv().is_err() {
        let err = match router.join() {
            Ok(Ok(Err(e))) => anyhow!("NFQUEUE verdict loop: {e}"),
            Ok(Err(e)) => e.into(),
            _ => anyhow!("NFQUEUE verdict loop ended at start-up"),
        };
        return Err(err);
    }

    // The reference agent, in the server namespace, on the server's address.
    let record_dir = scratch.join("agent");
    let server = SocketAddr::new(IpAddr::V4(topology.server_ip()), 0);
    let config =
        reference_config(s.preset, seed, Placement { listen: server, media: server, advertise: None }, &record_dir);
    let token = config.token.clone();
    let (agent_tx, agent_rx) = std::sync::mpsc::channel();
    let (agent_stop_tx, agent_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent = topology.spawn_in(Side::Server, move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        rt.block_on(async move {
            match jitterbug_agent::serve(config).await {
                Ok(agent) => {
                    let _ = agent_tx.send(Ok((agent.url(), agent.ca_pem().map(str::to_owned))));
                    let _ = agent_stop_rx.await;
                    agent.shutdown().await;
                }
                Err(e) => {
                    let _ = agent_tx.send(Err(e));
                }
            }
        });
        Ok(())
    })?;
    let stop_agent = move || {
        let _ = agent_stop_tx.send(());
        let _ = agent.join();
    };
    let (url, ca) = match agent_rx.recv() {
        Ok(Ok((url, Some(ca)))) => (url, ca),
        Ok(Ok((_, None))) => bail!("the agent in the server namespace has no generated CA"),
        Ok(Err(e)) => return Err(e.context("starting the agent in the server namespace")),
        Err(_) => bail!("the agent thread ended at start-up"),
    };

    // The client, in the client namespace; the call ends by stopping the router.
    let finish_stop = stop.clone();
    let finish = move || -> anyhow::Result<RelayReport> {
        finish_stop.store(true, Ordering::Relaxed);
        match router.join() {
            Ok(Ok(Ok(report))) => Ok(report),
            Ok(Ok(Err(e))) => Err(anyhow!("NFQUEUE verdict loop: {e}")),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(anyhow!("the NFQUEUE verdict loop panicked")),
        }
    };
    let (profile, preset, clip) = (s.profile.clone(), s.preset.clone(), s.clip.clone());
    let (client, call_seconds) = (s.client, s.call_seconds);
    let client_bind = SocketAddr::new(IpAddr::V4(topology.client_ip()), 0);
    let scratch: PathBuf = scratch.to_path_buf();
    let cancel = cancel.clone();
    let caller = topology.spawn_in(Side::Client, move || -> anyhow::Result<CallOutput> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let scenario = Scenario { profile: &profile, preset: &preset, clip: &clip, seed, client, call_seconds };
        let spec = CallSpec {
            scenario,
            caller: Caller::Native,
            agent: AgentTarget::Remote(RemoteAgent {
                url,
                token,
                trust: Trust::CaPem(ca),
                recordings: Some(record_dir),
            }),
            path: NetworkPath::External(ExternalPath {
                backend: BackendKind::Netns,
                client_bind,
                finish: Box::new(finish),
            }),
        };
        rt.block_on(cancel.run(call(spec, &scratch)))
    })?;
    let outcome = caller.join();
    // Whatever happened to the caller, the router stops (if the call did not get to it) and
    // the agent shuts down before the namespaces go.
    stop.store(true, Ordering::Relaxed);
    stop_agent();
    let mut output = match outcome {
        Ok(Ok(output)) => output?,
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => bail!("the client thread panicked"),
    };
    let listing = topology.exec(Side::Router, "conntrack", "conntrack", &["-L", "-p", "udp"])?;
    output.relay.nat_mappings = conntrack::nat_mappings(&listing);
    Ok(output)
}

/// An interface's index inside a namespace (`ip -o link show`: "7: rc@if6: …").
fn ifindex(topology: &Topology, side: Side, name: &str) -> anyhow::Result<u32> {
    let out = topology.exec(side, "ip", "iproute2", &["-o", "link", "show", name])?;
    out.split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| anyhow!("cannot read the ifindex of {name} from `{}`", out.trim()))
}
