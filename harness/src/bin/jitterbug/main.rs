//! The `jitterbug` command line: parsing, dispatch and printing; everything it does is the
//! `jitterbug` library's.

mod args;
mod call;
mod one;
mod profiles;
mod replay;
mod results;
mod run;
mod score;
mod signals;
mod sim;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jitterbug::catalog::{Presets, Profiles};

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
    Run(run::RunArgs),
    Browser(call::BrowserArgs),
    /// Run the reference voice agent (WHIP over HTTPS) until Ctrl-C; prints its URL.
    Agent(jitterbug_agent::cli::AgentArgs),
    Call(call::CallArgs),
    Report(results::ReportArgs),
    Compat(results::CompatArgs),
    Merge(results::MergeArgs),
    Sim(sim::SimArgs),
    Replay(replay::ReplayArgs),
    Score(score::ScoreArgs),
    Gate(results::GateArgs),
    Bless(results::BlessArgs),
    /// Inspect, sample and validate impairment profiles.
    #[command(subcommand)]
    Profiles(profiles::ProfilesCommand),
    /// Inspect settings presets (codec, frame size, FEC, DTX, jitter buffer).
    #[command(subcommand)]
    Presets(profiles::PresetsCommand),
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            // Whatever was interrupted, no namespace of this process outlives it.
            jitterbug::netns::topology::delete_all();
            eprintln!("jitterbug: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let custom = cli.profiles_dir.is_some() || cli.presets_dir.is_some();
    let profiles = Profiles::new(cli.profiles_dir);
    let presets = Presets::new(cli.presets_dir);
    let command_line: Vec<String> = std::env::args().collect();
    match cli.command {
        Command::Run(a) => run::run(a, &profiles, &presets, custom, &command_line),
        Command::Sim(a) => sim::sim(a, &profiles, &presets, &command_line),
        Command::Replay(a) => replay::replay(a, &presets),
        Command::Call(a) => call::call(a, &profiles, &presets, &command_line),
        Command::Browser(a) => call::browser(a, &profiles, &presets, &command_line),
        Command::Agent(a) => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(a.serve_until_ctrl_c())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Score(a) => score::score(a),
        Command::Gate(a) => results::gate(a),
        Command::Bless(a) => results::bless(a),
        Command::Report(a) => results::report(a, &profiles, &presets),
        Command::Compat(a) => results::compat(a),
        Command::Merge(a) => results::merge(a),
        Command::Profiles(c) => profiles::profiles(c, &profiles),
        Command::Presets(c) => profiles::presets(c, &presets),
    }
}
