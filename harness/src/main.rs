//! The `jitterbug` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jitterbug::call_cmd::{Caller, LiveBackend};
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::live::call::{AgentTarget, CallSpec, NetworkPath};
use jitterbug::live::whip_client::Trust;
use jitterbug::run_cmd::{self, RunOptions, Sweep};
use jitterbug::{clips, gate_cmd, profiles_cmd, score_cmd, sim_cmd};
use jitterbug_core::impairment::Direction;
use jitterbug_core::results::Status;
use jitterbug_core::sample::Train;

/// Network-impairment test harness and conformance suite for WebRTC voice agents.
///
/// Profiles (netem-profiles/) describe a network: delay, jitter, loss, reordering, rate limits,
/// NAT and TURN, in tc-netem vocabulary. Presets (agent-under-test/presets/) describe the media
/// settings: codec, frame size, FEC, DTX, jitter buffer. `jitterbug run` plays speech clips
/// through every profile × preset in virtual time and scores what comes out. The shipped
/// profiles, presets and clips are built into this binary; --profiles-dir / --presets-dir use
/// your own.
#[derive(Parser, Debug)]
#[command(name = "jitterbug", version, about, long_about)]
struct Cli {
    /// Use the profiles in this directory instead of the built-in ones.
    #[arg(long, global = true, env = "JITTERBUG_PROFILES", value_name = "DIR")]
    profiles_dir: Option<PathBuf>,
    /// Use the presets in this directory instead of the built-in ones.
    #[arg(long, global = true, env = "JITTERBUG_PRESETS", value_name = "DIR")]
    presets_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The main job: every profile × preset × clip in virtual time (deterministic by seed);
    /// writes results.json and run.json under reports/.
    Run {
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
        #[arg(long, default_value_t = jitterbug::sim::CALL_SECONDS)]
        call_seconds: f64,
        /// Run the real webrtc-rs stack (ICE + DTLS + SRTP + RTCP) in virtual time instead of the
        /// media path: adds setup time, ICE behaviour under blackouts and SRTP/RTCP overhead.
        #[arg(long)]
        full_stack: bool,
        /// Run only shard K of N (e.g. 2/4): a stable slice by scenario id, for CI matrices.
        /// Combine the shards' results.json with `jitterbug merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<run_cmd::Shard>,
        /// `sim`: virtual time (deterministic, fast). `live`: real calls on loopback — the
        /// reference agent behind the impairment relay, the native client, coturn for TURN
        /// profiles — one call at a time unless --parallel says otherwise. `netns`: each call in
        /// its own client/router/server network namespaces with real Linux NAT and NFQUEUE
        /// impairment (root; native client; TURN and agent-side NAT profiles are unsupported).
        #[arg(long, value_enum, default_value_t = Backend::Sim)]
        backend: Backend,
        /// Live calls to run at once (live backend). On a 2-core machine keep 1: concurrent
        /// calls compete for the CPU and the relay marks overloaded runs invalid.
        #[arg(long, default_value_t = 1)]
        parallel: usize,
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
    },
    /// One call from a real browser over WebDriver: the test page (browser-tests/page) runs
    /// against the reference agent behind the impairment relay (coturn and the browser's own
    /// TURN client for TURN profiles), sends the clip, records what it hears and polls
    /// getStats. Writes result.json (with the browser, what it negotiated and its getStats
    /// series), page-result.json, relay.json, capture.pcap, agent-trace.json and the audio into
    /// --out. Exit 0 ok, 1 error or invalid, 3 unsupported (e.g. WebKitGTK without WebRTC).
    Browser {
        #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
        browser: BrowserArg,
        #[arg(long)]
        profile: String,
        #[arg(long, default_value = "balanced-fec")]
        preset: String,
        /// A shipped clip name or a 48 kHz WAV path: the user's line (then room for the answer).
        #[arg(long, default_value = "arctic-a0009-slt")]
        clip: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds of audio the page sends (the clip, then silence).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// How the page sends the clip: Web Audio injection (every browser) or Chromium's fake
        /// capture file (through the browser's voice processing).
        #[arg(long, value_enum, default_value_t = SourceArg::Webaudio)]
        source: SourceArg,
        /// Let the browser negotiate RED (off by default: RED is redundancy of its own and
        /// would muddy FEC comparisons). What was negotiated is recorded either way.
        #[arg(long)]
        allow_red: bool,
        /// Use this WebDriver endpoint (a Selenium Grid, safaridriver on a Mac) instead of
        /// starting a driver here. The browser must reach this host's loopback (page, relay on
        /// 127.0.0.2, coturn): run the driver on the same host.
        #[arg(long, value_name = "URL")]
        webdriver: Option<String>,
        #[arg(long, default_value = "reports/browser", value_name = "DIR")]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run the reference voice agent (WHIP over HTTPS) until Ctrl-C; prints its URL.
    Agent(jitterbug_agent::cli::AgentArgs),
    /// One live call through the userspace impairment relay (or, with --backend netns, through
    /// a router namespace with real NAT): the native client calls the agent
    /// (the reference agent started on loopback, or --agent URL), plays the clip as the user
    /// with room for answers, records what it hears. Writes result.json (the `sim` schema plus
    /// setup time, candidate type and voice-to-voice latency), capture.pcap, relay.json,
    /// client.json, agent-trace.json and the audio into --out.
    Call {
        /// `live`: through the userspace relay on loopback. `netns`: the client, a router with
        /// real Linux NAT (the profile's client NAT type) and NFQUEUE impairment, and the agent
        /// each in a network namespace (needs root; no TURN or agent-side NAT yet).
        #[arg(long, value_enum, default_value_t = CallBackend::Live)]
        backend: CallBackend,
        /// WHIP URL of a running agent (default: start the reference agent on loopback).
        #[arg(long, value_name = "URL", requires = "token")]
        agent: Option<String>,
        /// Bearer token for --agent.
        #[arg(long, env = "JITTERBUG_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Trust the agent's certificate through this CA (PEM), e.g. the agent's --ca-out.
        #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
        ca: Option<PathBuf>,
        /// Skip certificate verification; refused unless the agent's address is loopback.
        #[arg(long)]
        insecure: bool,
        /// The --agent's --record-dir, when it runs on this host: both directions are then
        /// scored from its recordings (otherwise only what the client measures is reported).
        #[arg(long, value_name = "DIR", requires = "agent")]
        agent_record_dir: Option<PathBuf>,
        #[arg(long)]
        profile: String,
        #[arg(long, default_value = "balanced-fec")]
        preset: String,
        /// A shipped clip name or a 48 kHz WAV path: the user's line.
        #[arg(long, default_value = "arctic-a0009-slt")]
        clip: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Call length: the clip and room for the answer, repeated to at least this long.
        #[arg(long, default_value_t = 20.0)]
        call_seconds: f64,
        #[arg(long, default_value = "reports/call", value_name = "DIR")]
        out: PathBuf,
        /// Print the result as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Render results.json as one self-contained HTML report (no network fetches): summary
    /// against golden, heatmaps, latency CDFs, KPI table, environment.
    Report {
        #[arg(value_name = "RESULTS.json")]
        results: PathBuf,
        /// Output file (default: report.html next to the results).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Golden baselines to gate against in the summary (default: ./golden if present).
        #[arg(long, value_name = "DIR")]
        baseline: Option<PathBuf>,
    },
    /// The browser compatibility matrix (seed table 7) of a run's browser calls, as Markdown
    /// (or JSON): per browser, capture constraints, Opus FEC, DTX, ptime, stats, TURN/UDP/TCP/TLS.
    Compat {
        #[arg(value_name = "RESULTS.json")]
        results: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Combine results.json files (e.g. from `run --shard K/N` jobs) into one.
    Merge {
        #[arg(required = true, value_name = "RESULTS.json")]
        files: Vec<PathBuf>,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// One scenario in virtual time: writes result.json, run.json, degraded.wav (what the user
    /// heard), degraded-uplink.wav (what the agent heard) and capture.pcap into --out.
    Sim {
        #[arg(long)]
        profile: String,
        #[arg(long)]
        preset: String,
        /// A shipped clip name or a 48 kHz WAV path.
        #[arg(long)]
        clip: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Call length: the clip is repeated to at least this many seconds.
        #[arg(long, default_value_t = jitterbug::sim::CALL_SECONDS)]
        call_seconds: f64,
        /// Run the real webrtc-rs stack (ICE + DTLS + SRTP + RTCP) in virtual time; writes
        /// full-stack.json (setup time, ICE state changes, datagrams per kind, SRTP overhead).
        #[arg(long)]
        full_stack: bool,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print the result as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// STOI, ESTOI and delay of a degraded recording against its reference (any sample rate,
    /// both files the same rate). The degraded file is aligned to the reference first.
    Score {
        #[arg(long, value_name = "REF.wav")]
        reference: PathBuf,
        #[arg(long, value_name = "DEG.wav")]
        degraded: PathBuf,
        /// Score the pair as given (like pystoi), without aligning by the estimated delay.
        #[arg(long)]
        no_align: bool,
        #[arg(long)]
        json: bool,
    },
    /// Compare results with the golden baselines: exit 0 when every blessed scenario ran and
    /// every metric is within tolerance, 1 on a regression or changed status, 2 when blessed
    /// scenarios are missing or the results file is incomplete (fail closed).
    Gate {
        /// Directory with baselines/<backend>.json and tolerances.toml.
        #[arg(long, default_value = "golden", value_name = "DIR")]
        baseline: PathBuf,
        #[arg(long, value_name = "RESULTS.json")]
        results: PathBuf,
        /// Also write JUnit XML (one test case per scenario × metric) for CI systems.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Check only these backends' baselines (default: every baseline must be satisfied).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Deliberately accept results as the new baselines, printing what changed.
    Bless {
        #[arg(long, default_value = "golden", value_name = "DIR")]
        baseline: PathBuf,
        #[arg(long, value_name = "RESULTS.json")]
        results: PathBuf,
    },
    /// Inspect, sample and validate impairment profiles.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Inspect settings presets (codec, frame size, FEC, DTX, jitter buffer).
    #[command(subcommand)]
    Presets(PresetsCommand),
}

#[derive(Subcommand, Debug)]
enum ProfilesCommand {
    /// List profiles with a one-line description.
    List {
        /// Print the parsed profiles as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a profile as written, plus what it should do to a 20 ms voice stream.
    Show {
        /// Profile name, or a path to a profile file.
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Push a packet train through one direction of a profile and print measured statistics
    /// beside the analytic expectation (loss, burst length, delay percentiles, reordering,
    /// duplication).
    Sample {
        /// Profile name, or a path to a profile file.
        name: String,
        #[arg(long, default_value_t = 100_000)]
        packets: u64,
        /// Seed of every random choice: the same seed gives the same output.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = DirArg::Uplink)]
        direction: DirArg,
        /// Packet spacing in milliseconds.
        #[arg(long, default_value_t = 20.0)]
        spacing_ms: f64,
        /// Packet size on the wire in bytes (what rate limits count).
        #[arg(long, default_value_t = 100)]
        size: u32,
        /// Print one JSON object with `configured` and `measured`.
        #[arg(long)]
        json: bool,
    },
    /// Sample every profile in both directions; exit 1 if any disagrees with its configuration.
    Verify {
        #[arg(long, default_value_t = 1_000_000)]
        packets: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Validate every profile; exits 1 if any is invalid, naming file, line and field.
    Check,
}

#[derive(Subcommand, Debug)]
enum PresetsCommand {
    /// List presets with their description.
    List,
    /// Print a preset as written.
    Show { name: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum BrowserArg {
    Chromium,
    Firefox,
    /// WebKitGTK (MiniBrowser + WebKitWebDriver under Xvfb); Debian's build has no WebRTC.
    Webkit,
    /// Safari, only through `--webdriver` (safaridriver runs on macOS).
    Safari,
}

impl BrowserArg {
    fn browser(self) -> jitterbug::browser::Browser {
        match self {
            BrowserArg::Chromium => jitterbug::browser::Browser::Chromium,
            BrowserArg::Firefox => jitterbug::browser::Browser::Firefox,
            BrowserArg::Webkit => jitterbug::browser::Browser::Webkit,
            BrowserArg::Safari => jitterbug::browser::Browser::Safari,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ClientArg {
    Native,
    Chromium,
    Firefox,
    Webkit,
    Safari,
}

impl ClientArg {
    fn caller(self) -> Caller {
        match self {
            ClientArg::Native => Caller::Native,
            ClientArg::Chromium => Caller::Browser(BrowserArg::Chromium.browser()),
            ClientArg::Firefox => Caller::Browser(BrowserArg::Firefox.browser()),
            ClientArg::Webkit => Caller::Browser(BrowserArg::Webkit.browser()),
            ClientArg::Safari => Caller::Browser(BrowserArg::Safari.browser()),
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SourceArg {
    Webaudio,
    FakeCapture,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CallBackend {
    Live,
    Netns,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sim,
    Live,
    /// Namespaces with real Linux NAT and NFQUEUE impairment (root; native client).
    Netns,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum DirArg {
    Uplink,
    Downlink,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jitterbug: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Items by name, or all of them when no names are given.
fn pick<T>(
    names: &[String],
    all: impl FnOnce() -> anyhow::Result<Vec<T>>,
    get: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    if names.is_empty() { all() } else { names.iter().map(|n| get(n)).collect() }
}

/// `./golden` when it holds baselines (running from a checkout), else none.
fn default_baseline() -> Option<PathBuf> {
    let g = PathBuf::from("golden");
    g.join("baselines").is_dir().then_some(g)
}

/// The simulator mode for `--full-stack`.
fn mode(full_stack: bool) -> anyhow::Result<run_cmd::Mode> {
    if !full_stack {
        return Ok(run_cmd::Mode::MediaPath);
    }
    #[cfg(feature = "full-stack")]
    return Ok(run_cmd::Mode::FullStack);
    #[cfg(not(feature = "full-stack"))]
    anyhow::bail!("--full-stack: this jitterbug was built without the `full-stack` feature")
}

/// A call's result on the terminal (or as JSON) and where its files are.
fn print_call(result: &jitterbug_core::results::ScenarioResult, out: &Path, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(result)?);
    } else {
        print!("{}", jitterbug::call_cmd::summary(result));
        println!(
            "wrote {}/result.json, capture.pcap, relay.json, client.json, agent-trace.json, degraded.wav, degraded-uplink.wav",
            out.display()
        );
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs `work` until it ends, Ctrl-C or SIGTERM (what CI runners send on cancel or timeout):
/// on a signal the work is dropped, which stops every process, socket and namespace it started.
fn until_interrupted<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    runtime()?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let signal = tokio::select! {
            r = work => return r,
            _ = tokio::signal::ctrl_c() => "interrupted (Ctrl-C)",
            _ = term.recv() => "terminated (SIGTERM)",
        };
        jitterbug::netns::topology::delete_all();
        anyhow::bail!("{signal}: everything started was stopped")
    })
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let profiles = Profiles::new(cli.profiles_dir);
    let presets = Presets::new(cli.presets_dir);
    let command_line: Vec<String> = std::env::args().collect();
    match cli.command {
        Command::Run {
            out,
            reports_dir,
            profiles: p,
            presets: s,
            clips: c,
            seeds,
            call_seconds,
            full_stack,
            shard,
            backend,
            parallel,
            clients,
            webdriver,
        } => {
            let browsers = clients.iter().any(|c| *c != ClientArg::Native);
            let backend = if browsers && backend == Backend::Sim { Backend::Live } else { backend };
            anyhow::ensure!(
                call_seconds.is_finite() && call_seconds > 0.0,
                "--call-seconds: expected a positive number, got {call_seconds}"
            );
            let p = pick(&p, || Ok(profiles.all()?), |n| Ok(profiles.get(n)?))?;
            let s = pick(&s, || Ok(presets.all()?), |n| Ok(presets.get(n)?))?;
            let c = pick(&c, || clips::names().iter().map(|n| clips::load(n)).collect(), clips::load)?;
            anyhow::ensure!(!c.is_empty(), "no clips to run");
            eprintln!(
                "running {} profiles × {} presets × {} clips × {} seeds {}",
                p.len(),
                s.len(),
                c.len(),
                seeds.len(),
                match backend {
                    Backend::Sim => "in virtual time",
                    Backend::Live => "live (real UDP on loopback)",
                    Backend::Netns => "in network namespaces (real NAT, NFQUEUE impairment)",
                }
            );
            let sweep = Sweep { seeds, call_seconds, shard, mode: mode(full_stack)? };
            let opts = RunOptions { out, reports_dir, sweep, baseline: default_baseline(), command_line };
            let (dir, failed) = match backend {
                Backend::Sim => run_cmd::run(&p, &s, &c, &opts).context("jitterbug run")?,
                Backend::Live | Backend::Netns => run_cmd::run_with(&opts, |out| {
                    let callers: Vec<Caller> = clients.iter().map(|c| c.caller()).collect();
                    let live = if backend == Backend::Netns { LiveBackend::Netns } else { LiveBackend::Relay };
                    until_interrupted(jitterbug::call_cmd::run_live_matrix(
                        &p,
                        &s,
                        &c,
                        &callers,
                        &opts.sweep,
                        webdriver.as_deref(),
                        live,
                        out,
                        parallel,
                    ))
                })
                .with_context(|| {
                    format!("jitterbug run --backend {}", if backend == Backend::Netns { "netns" } else { "live" })
                })?,
            };
            eprintln!("wrote {}/results.json, run.json and report.html", dir.display());
            if failed > 0 {
                eprintln!("{failed} scenario(s) ended with status error or invalid; see results.json");
                return Ok(ExitCode::from(1));
            }
        }
        Command::Sim { profile, preset, clip, seed, call_seconds, full_stack, out, json } => {
            anyhow::ensure!(
                call_seconds.is_finite() && call_seconds > 0.0,
                "--call-seconds: expected a positive number, got {call_seconds}"
            );
            let (p, s, c) = (profiles.get(&profile)?, presets.get(&preset)?, clips::load(&clip)?.as_call(call_seconds));
            let r = sim_cmd::sim(&p, &s, &c, seed, mode(full_stack)?, &out, &command_line)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{}: {}",
                    r.id,
                    match &r.status {
                        Status::Ok => "ok".to_string(),
                        other => format!("{other:?}"),
                    }
                );
                for (name, d) in [("uplink", &r.uplink), ("downlink", &r.downlink)] {
                    if let Some(d) = d {
                        println!(
                            "  {name:<8} STOI {:.3}  ESTOI {:.3}  mouth-to-ear {:.1} ms (floor {:.1})  MOS {:.2}  loss {:.1} %  concealed {:.1} %  FEC-recovered {}  late {}",
                            d.stoi,
                            d.estoi,
                            d.mouth_to_ear_ms,
                            d.delay_floor_ms,
                            d.mos,
                            d.network.loss_rate * 100.0,
                            d.concealment_ratio * 100.0,
                            d.jitter_buffer.fec_recovered,
                            d.jitter_buffer.packets_late
                        );
                    }
                }
                let extra = if full_stack { "full-stack.json" } else { "capture.pcap" };
                println!("wrote {}/result.json, run.json, degraded.wav, degraded-uplink.wav, {extra}", out.display());
            }
            if r.status != Status::Ok {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Agent(args) => runtime()?.block_on(args.serve_until_ctrl_c())?,
        Command::Browser { browser, profile, preset, clip, seed, seconds, source, allow_red, webdriver, out, json } => {
            anyhow::ensure!(
                seconds.is_finite() && seconds > 0.0,
                "--seconds: expected a positive number, got {seconds}"
            );
            let (p, s, c) = (profiles.get(&profile)?, presets.get(&preset)?, clips::load(&clip)?);
            let spec = jitterbug::live::browser_call::BrowserCallSpec {
                browser: browser.browser(),
                webdriver,
                profile: &p,
                preset: &s,
                clip: &c,
                seed,
                duration: std::time::Duration::from_secs_f64(seconds),
                source: match source {
                    SourceArg::Webaudio => jitterbug::browser::Source::WebAudio,
                    SourceArg::FakeCapture => jitterbug::browser::Source::FakeCapture,
                },
                allow_red,
            };
            eprintln!("{} call through the relay with profile {profile}, preset {preset}…", browser.browser().name());
            let o = until_interrupted(jitterbug::call_cmd::run_browser(spec, &out))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&o.result)?);
            } else {
                print!("{}", jitterbug::call_cmd::summary(&o.result));
                if let Some(b) = &o.result.browser {
                    println!("  {} {}; cycle {}", b.name, b.version, b.cycle_ms);
                }
                println!(
                    "wrote {}/result.json, page-result.json, relay.json, capture.pcap, agent-trace.json",
                    out.display()
                );
            }
            match o.result.status {
                Status::Ok => {}
                Status::Unsupported { ref reason } => {
                    eprintln!("unsupported: {reason}");
                    return Ok(ExitCode::from(3));
                }
                _ => return Ok(ExitCode::from(1)),
            }
        }
        Command::Call {
            backend,
            agent,
            token,
            ca,
            insecure,
            agent_record_dir,
            profile,
            preset,
            clip,
            seed,
            call_seconds,
            out,
            json,
        } => {
            anyhow::ensure!(
                call_seconds.is_finite() && call_seconds > 0.0,
                "--call-seconds: expected a positive number, got {call_seconds}"
            );
            let (p, s, c) = (profiles.get(&profile)?, presets.get(&preset)?, clips::load(&clip)?);
            if backend == CallBackend::Netns {
                anyhow::ensure!(
                    agent.is_none(),
                    "--agent with --backend netns: the reference agent runs in the server namespace; a remote agent cannot"
                );
                if let Some(reason) = jitterbug::netns::call::unsupported(&p) {
                    anyhow::bail!("profile {profile}: {reason}");
                }
                eprintln!("calling in network namespaces with profile {profile}, preset {preset} ({call_seconds} s)…");
                let o = until_interrupted(jitterbug::call_cmd::run_netns_call(
                    &p,
                    &s,
                    &c,
                    seed,
                    call_seconds,
                    &out,
                    &command_line,
                ))?;
                print_call(&o.result, &out, json)?;
                return Ok(if o.result.status == Status::Ok { ExitCode::SUCCESS } else { ExitCode::from(1) });
            }
            let target = match agent {
                None => AgentTarget::InProcess,
                Some(url) => {
                    let trust = match (ca, insecure) {
                        (Some(ca), _) => Trust::Ca(ca),
                        (None, true) => Trust::Insecure,
                        (None, false) => anyhow::bail!(
                            "--agent {url}: say how to trust its certificate: --ca FILE (e.g. the agent's --ca-out), or --insecure for a loopback test agent"
                        ),
                    };
                    AgentTarget::Remote { url, token: token.unwrap_or_default(), trust, recordings: agent_record_dir }
                }
            };
            let spec = CallSpec {
                profile: &p,
                preset: &s,
                clip: &c,
                seed,
                call_seconds,
                agent: target,
                path: NetworkPath::Relay,
            };
            eprintln!("calling through the relay with profile {profile}, preset {preset} ({call_seconds} s)…");
            let o = until_interrupted(jitterbug::call_cmd::run_call(spec, &out, &command_line))?;
            print_call(&o.result, &out, json)?;
            if o.result.status != Status::Ok {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Score { reference, degraded, no_align, json } => {
            let s = score_cmd::score(&reference, &degraded, !no_align)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!(
                    "STOI   {:.4}\nESTOI  {:.4}\ndelay  {} samples ({:.2} ms at {} Hz){}",
                    s.stoi,
                    s.estoi,
                    s.delay_samples,
                    s.delay_ms,
                    s.sample_rate,
                    if s.aligned { "" } else { ", not aligned" }
                );
            }
        }
        Command::Gate { baseline, results, junit, only } => {
            let results = match gate_cmd::load_results(&results) {
                Ok(r) => r,
                Err(e) => {
                    // An unreadable or truncated results file is incomplete evidence: exit 2.
                    eprintln!("jitterbug: gate: {e}");
                    return Ok(ExitCode::from(gate_cmd::Outcome::Incomplete as u8));
                }
            };
            let g = gate_cmd::gate(&baseline, &results, &only)?;
            print!("{}", g.table());
            if let Some(path) = junit {
                std::fs::write(&path, g.junit()).with_context(|| format!("writing {}", path.display()))?;
            }
            let outcome = g.outcome();
            eprintln!("gate: {outcome:?}");
            return Ok(ExitCode::from(outcome as u8));
        }
        Command::Report { results, output, baseline } => {
            let output = output.unwrap_or_else(|| results.with_file_name("report.html"));
            run_cmd::write_report(&results, &output, baseline.or_else(default_baseline).as_deref())?;
            eprintln!("wrote {}", output.display());
        }
        Command::Compat { results, json } => {
            let results = gate_cmd::load_results(&results)?;
            let rows = jitterbug::compat::matrix(&results);
            anyhow::ensure!(
                !rows.is_empty(),
                "no browser calls in these results (run `jitterbug browser` or `run --clients`)"
            );
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{}", jitterbug::compat::markdown(&rows).trim_end());
            }
        }
        Command::Merge { files, output } => {
            let merged = run_cmd::merge(&files)?;
            eprintln!(
                "merged {} scenarios from {} files into {}",
                merged.scenarios.len(),
                files.len(),
                output.display()
            );
            run_cmd::write_json(&output, &merged)?;
        }
        Command::Bless { baseline, results } => {
            let results = gate_cmd::load_results(&results)?;
            print!("{}", gate_cmd::bless(&baseline, &results)?);
        }
        Command::Profiles(cmd) => return profiles_command(cmd, &profiles),
        Command::Presets(PresetsCommand::List) => {
            for p in presets.all()? {
                println!("{:<16} {}", p.name, p.description);
            }
        }
        Command::Presets(PresetsCommand::Show { name }) => print!("{}", presets.text(&name)?),
    }
    Ok(ExitCode::SUCCESS)
}

fn profiles_command(cmd: ProfilesCommand, profiles: &Profiles) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfilesCommand::List { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles.all()?)?);
            } else {
                print!("{}", profiles_cmd::list(profiles)?);
            }
        }
        ProfilesCommand::Show { name, json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles.get(&name)?)?);
            } else {
                print!("{}", profiles_cmd::show(profiles, &name)?);
            }
        }
        ProfilesCommand::Sample { name, packets, seed, direction, spacing_ms, size, json } => {
            anyhow::ensure!(
                spacing_ms.is_finite() && spacing_ms > 0.0,
                "--spacing-ms: expected a positive number of milliseconds, got {spacing_ms}"
            );
            anyhow::ensure!(packets > 0, "--packets: expected at least one packet");
            let profile = profiles.get(&name)?;
            let direction = match direction {
                DirArg::Uplink => Direction::Uplink,
                DirArg::Downlink => Direction::Downlink,
            };
            let train = Train { packets, spacing: jitterbug_core::time::millis_f64(spacing_ms), size };
            let c = profiles_cmd::sample(&profile, direction, seed, train);
            if json {
                let v = serde_json::json!({
                    "profile": profile.name, "direction": c.direction, "seed": c.seed, "train": c.train,
                    "configured": c.configured, "measured": c.measured, "counters": c.counters,
                    "delay_ms_stderr": c.delay_ms_stderr,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", profiles_cmd::sample_table(&profile.name, &c));
            }
        }
        ProfilesCommand::Verify { packets, seed, json } => {
            let verdicts: Vec<_> = profiles.all()?.iter().map(|p| profiles_cmd::verify(p, seed, packets)).collect();
            let bad: Vec<_> = verdicts.iter().filter(|v| v.status != Status::Ok).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&verdicts)?);
            } else {
                for v in &verdicts {
                    match &v.status {
                        Status::Ok => println!("agrees    {}", v.profile),
                        other => println!("DISAGREES {}: {other:?}", v.profile),
                    }
                }
            }
            if !bad.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        ProfilesCommand::Check => {
            let (report, ok) = profiles_cmd::check(profiles)?;
            print!("{report}");
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
