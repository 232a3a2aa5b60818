//! `jitterbug run`: the matrix, its results, its report and its verdict.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::{Args, ValueEnum};
use jitterbug::backend::{Backend, BrowserOptions, LiveBackend, Mode, NetnsBackend, SimBackend};
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::evidence::Evidence;
use jitterbug::gate::{self, Gate};
use jitterbug::live::agent::AgentTarget;
use jitterbug::runner::{self, Matrix, RunOptions, Shard};
use jitterbug::{clips, report, store};
use jitterbug_core::identity::Client;
use jitterbug_core::results::{Results, Status};

use crate::args::{ClientArg, positive_seconds};
use crate::summary::{self, Gated};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    /// Virtual time (deterministic, fast).
    Sim,
    /// Real calls on loopback through the userspace relay.
    Live,
    /// Namespaces with real Linux NAT and NFQUEUE impairment (root; native client).
    Netns,
}

/// The main job: every profile × preset × clip in virtual time (deterministic by seed); writes
/// results.json, run.json and report.html under reports/, and says how the run compares with
/// the baselines.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Output directory (default: reports/<run-id>/, with reports/latest pointing at it).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Where run directories go when --out is not given.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    reports_dir: PathBuf,
    /// Comma-separated profile names (default: all).
    #[arg(long, value_delimiter = ',')]
    profiles: Vec<String>,
    /// Comma-separated preset names (default: all).
    #[arg(long, value_delimiter = ',')]
    presets: Vec<String>,
    /// Comma-separated clip names or WAV paths (default: all shipped clips).
    #[arg(long, value_delimiter = ',')]
    clips: Vec<String>,
    /// Seeds; every random choice derives from them and they are recorded in the results.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    seeds: Vec<u64>,
    /// Call length: each clip is repeated to at least this many seconds.
    #[arg(long, default_value_t = jitterbug::sim::CALL_SECONDS, value_parser = positive_seconds)]
    call_seconds: f64,
    /// Run the real webrtc-rs stack (ICE + DTLS + SRTP + RTCP) in virtual time instead of the
    /// media path: adds setup time, ICE behaviour under blackouts and SRTP/RTCP overhead.
    #[arg(long)]
    full_stack: bool,
    /// Run only shard K of N (e.g. 2/4): a stable slice by scenario id, for CI matrices.
    /// Combine the shards' results.json with `jitterbug merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// `sim`: virtual time (deterministic, fast). `live`: real calls on loopback — the
    /// reference agent behind the impairment relay, the native client, coturn for TURN
    /// profiles — one call at a time unless --parallel says otherwise. `netns`: each call in
    /// its own client/router/server network namespaces with real Linux NAT and NFQUEUE
    /// impairment (root; native client; TURN and agent-side NAT profiles are unsupported).
    #[arg(long, value_enum, default_value_t = BackendArg::Sim)]
    backend: BackendArg,
    /// Live calls to run at once (live and netns backends). On a 2-core machine keep 1:
    /// concurrent calls compete for the CPU and the relay marks overloaded runs invalid.
    #[arg(long, default_value = "1")]
    parallel: NonZeroUsize,
    /// Who calls, with the live backend: `native` (our client on the webrtc-rs core) and
    /// browsers over WebDriver (`chromium`, `firefox`, `webkit`, `safari` with --webdriver).
    /// Implies --backend live when a browser is named.
    #[arg(long, value_delimiter = ',', default_value = "native")]
    clients: Vec<ClientArg>,
    /// An existing WebDriver endpoint for the browser clients (Selenium Grid, safaridriver).
    /// The browser must reach this host's loopback (page, relay on 127.0.0.2, coturn): run
    /// the driver on the same host.
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    /// Gate the run against this store (baselines/<backend>.json and tolerances.toml)
    /// instead of the shipped one.
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
}

/// Items by name, or all of them when no names are given.
fn pick<T>(
    names: &[String],
    all: impl FnOnce() -> anyhow::Result<Vec<T>>,
    get: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    if names.is_empty() { all() } else { names.iter().map(|n| get(n)).collect() }
}

pub fn run(
    a: RunArgs,
    profiles: &Profiles,
    presets: &Presets,
    custom: bool,
    command_line: &[String],
) -> anyhow::Result<ExitCode> {
    let browsers = a.clients.iter().any(|c| *c != ClientArg::Native);
    let kind = if browsers && a.backend == BackendArg::Sim { BackendArg::Live } else { a.backend };
    let p = pick(&a.profiles, || Ok(profiles.all()?), |n| Ok(profiles.get(n)?))?;
    let s = pick(&a.presets, || Ok(presets.all()?), |n| Ok(presets.get(n)?))?;
    let c = pick(&a.clips, || clips::names().iter().map(|n| clips::load(n)).collect(), clips::load)?;
    anyhow::ensure!(!c.is_empty(), "no clips to run");
    let clients: Vec<Client> = a.clients.iter().map(|&c| c.into()).collect();
    eprintln!(
        "running {} profiles × {} presets × {} clips × {} seeds {}",
        p.len(),
        s.len(),
        c.len(),
        a.seeds.len(),
        match kind {
            BackendArg::Sim => "in virtual time",
            BackendArg::Live => "live (real UDP on loopback)",
            BackendArg::Netns => "in network namespaces (real NAT, NFQUEUE impairment)",
        }
    );
    let cancel = crate::signals::watch()?;
    let backend: Box<dyn Backend> = match kind {
        BackendArg::Sim => Box::new(SimBackend::new(if a.full_stack { Mode::FullStack } else { Mode::MediaPath })),
        BackendArg::Live => {
            let options = BrowserOptions { webdriver: a.webdriver.clone(), ..Default::default() };
            Box::new(LiveBackend::new(AgentTarget::InProcess, options, a.parallel, cancel.clone())?)
        }
        BackendArg::Netns => Box::new(NetnsBackend::new(a.parallel, cancel.clone())),
    };

    let started = SystemTime::now();
    let out = a.out.clone().unwrap_or_else(|| a.reports_dir.join(store::run_id(started)));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let matrix = Matrix {
        profiles: &p,
        presets: &s,
        clips: &c,
        clients: &clients,
        seeds: &a.seeds,
        call_seconds: a.call_seconds,
        shard: a.shard,
    };
    let opts = RunOptions { evidence: Some(&out), progress: true, cancel: &cancel };
    let results = runner::run(&*backend, &matrix, &opts)
        .with_context(|| format!("jitterbug run --backend {}", backend.kind()))?;

    // Unsupported is a known gap, recorded and gated as such; errors and invalid runs fail.
    let failed = results.iter().filter(|r| matches!(r.status, Status::Error { .. } | Status::Invalid { .. })).count();
    let results = Results::new(results);
    store::write_json(&out.join("results.json"), &results)?;
    store::write_run_info(&out, started, command_line, &a.seeds, results.scenarios.len())?;
    let store_dir = match (&a.baseline, custom) {
        (Some(dir), _) => Ok(dir.clone()),
        (None, true) => {
            Err("the run used --profiles-dir/--presets-dir, which the shipped baselines do not cover".to_string())
        }
        (None, false) => gate::shipped_store(backend.kind()).ok_or_else(|| {
            format!("no shipped baselines for the {} backend here (pass --baseline DIR)", backend.kind())
        }),
    };
    let gated: Result<(PathBuf, Gate), String> = match store_dir {
        Ok(dir) => {
            let g = gate::gate(&dir, &results, &[backend.kind().name().to_string()], false)?;
            Ok((dir, g))
        }
        Err(why) => Err(why),
    };
    let media = Evidence { profiles, presets, results_dir: &out };
    let report_file = out.join("report.html");
    report::write(&results.scenarios, &out, &report_file, gated.as_ref().ok().map(|(_, g)| g), &media)?;
    if a.out.is_none() {
        store::point_latest(&a.reports_dir, &out)?;
    }
    let shown = match &gated {
        Ok((dir, g)) => Gated::Against { store: dir, gate: g },
        Err(why) => Gated::Not(why.clone()),
    };
    print!("{}", summary::run(&results.scenarios, &shown, &report_file));
    if failed > 0 {
        eprintln!("{failed} scenario(s) ended with status error or invalid; see {}/results.json", out.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
