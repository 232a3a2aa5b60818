//! The `jitterbug` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jitterbug::catalog::Catalog;
use jitterbug::profiles_cmd;
use jitterbug::run_cmd::{self, RunOptions};
use jitterbug_core::impairment::Direction;
use jitterbug_core::sample::Train;

/// Network-impairment test harness and conformance suite for WebRTC voice agents.
///
/// Profiles describe a network (delay, jitter, loss, reordering, rate limits, NAT, TURN) in
/// tc-netem vocabulary. The shipped ones are built into this binary; point --profiles-dir at a
/// directory of *.toml files to use your own.
#[derive(Parser, Debug)]
#[command(name = "jitterbug", version, about, long_about)]
struct Cli {
    /// Use the profiles in this directory instead of the built-in ones.
    #[arg(long, global = true, env = "JITTERBUG_PROFILES", value_name = "DIR")]
    profiles_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect, sample and validate impairment profiles.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Run the main job: today, sample every profile in both directions and record
    /// measured against configured statistics in results.json under reports/.
    Run {
        /// Output directory (default: reports/<run-id>/, with reports/latest pointing at it).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Where run directories go when --out is not given.
        #[arg(long, default_value = "reports", value_name = "DIR")]
        reports_dir: PathBuf,
        /// Packets pushed through each direction of each profile.
        #[arg(long, default_value_t = 200_000)]
        packets: u64,
        /// Seed of every random choice; recorded in the results.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand, Debug)]
enum ProfilesCommand {
    /// List profiles with a one-line description.
    List {
        /// Print JSON (name, description, source, nat) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a profile as written, plus what it should do to a 20 ms voice stream.
    Show {
        /// Profile name, or a path to a profile file.
        name: String,
        /// Print the parsed profile as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Push a packet train through one direction of a profile and print measured statistics
    /// beside the analytic expectation (loss, burst length, delay percentiles, reordering,
    /// duplication).
    Sample {
        /// Profile name, or a path to a profile file.
        name: String,
        /// Number of packets.
        #[arg(long, default_value_t = 100_000)]
        packets: u64,
        /// Seed of every random choice: the same seed gives the same output.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Which direction to sample.
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
    /// Validate every profile; exits 1 if any is invalid, naming file, line and field.
    Check,
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

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let catalog = Catalog::new(cli.profiles_dir);
    match cli.command {
        Command::Profiles(ProfilesCommand::List { json }) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&catalog.all()?)?);
            } else {
                print!("{}", profiles_cmd::list(&catalog)?);
            }
        }
        Command::Profiles(ProfilesCommand::Show { name, json }) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&catalog.get(&name)?)?);
            } else {
                print!("{}", profiles_cmd::show(&catalog, &name)?);
            }
        }
        Command::Profiles(ProfilesCommand::Sample { name, packets, seed, direction, spacing_ms, size, json }) => {
            anyhow::ensure!(
                spacing_ms.is_finite() && spacing_ms > 0.0,
                "--spacing-ms: expected a positive number of milliseconds, got {spacing_ms}"
            );
            anyhow::ensure!(packets > 0, "--packets: expected at least one packet");
            let profile = catalog.get(&name)?;
            let direction = match direction {
                DirArg::Uplink => Direction::Uplink,
                DirArg::Downlink => Direction::Downlink,
            };
            let train = Train { packets, spacing: jitterbug_core::time::millis_f64(spacing_ms), size };
            let c = profiles_cmd::sample(&profile, direction, seed, train);
            if json {
                let v = serde_json::json!({
                    "profile": profile.name,
                    "direction": c.direction,
                    "seed": c.seed,
                    "train": c.train,
                    "configured": c.configured,
                    "measured": c.measured,
                    "counters": c.counters,
                    "delay_ms_stderr": c.delay_ms_stderr,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", profiles_cmd::sample_table(&profile.name, &c));
            }
        }
        Command::Profiles(ProfilesCommand::Check) => {
            let (report, ok) = profiles_cmd::check(&catalog)?;
            print!("{report}");
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Run { out, reports_dir, packets, seed } => {
            let opts = RunOptions { out, reports_dir, packets, seed, command_line: std::env::args().collect() };
            let (dir, failed) = run_cmd::run(&catalog, &opts).context("jitterbug run")?;
            eprintln!("wrote {}/results.json and run.json", dir.display());
            if failed > 0 {
                eprintln!("{failed} scenario(s) did not match their configuration; see status in results.json");
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
