//! `jitterbug profiles …` and `jitterbug presets …`: the catalogues, for people and scripts.

use std::fmt::Write;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use jitterbug::catalog::{CatalogError, Presets, Profiles};
use jitterbug::profile_check::{directions, sample, verify};
use jitterbug_core::impairment::Direction;
use jitterbug_core::results::Status;
use jitterbug_core::sample::{Comparison, PathStats, Train};

#[derive(Subcommand, Debug)]
pub enum ProfilesCommand {
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
pub enum PresetsCommand {
    /// List presets with their description.
    List,
    /// Print a preset as written.
    Show { name: String },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DirArg {
    Uplink,
    Downlink,
}

pub fn profiles(cmd: ProfilesCommand, profiles: &Profiles) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfilesCommand::List { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles.all()?)?);
            } else {
                print!("{}", list(profiles)?);
            }
        }
        ProfilesCommand::Show { name, json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles.get(&name)?)?);
            } else {
                print!("{}", show(profiles, &name)?);
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
            let c = sample(&profile, direction, seed, train);
            if json {
                let v = serde_json::json!({
                    "profile": profile.name, "direction": c.direction, "seed": c.seed, "train": c.train,
                    "configured": c.configured, "measured": c.measured, "counters": c.counters,
                    "delay_ms_stderr": c.delay_ms_stderr,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", sample_table(&profile.name, &c));
            }
        }
        ProfilesCommand::Verify { packets, seed, json } => {
            let verdicts: Vec<_> = profiles.all()?.iter().map(|p| verify(p, seed, packets)).collect();
            let bad = verdicts.iter().filter(|v| v.status != Status::Ok).count();
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
            if bad > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        ProfilesCommand::Check => {
            let (report, ok) = check(profiles)?;
            print!("{report}");
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn presets(cmd: PresetsCommand, presets: &Presets) -> anyhow::Result<ExitCode> {
    match cmd {
        PresetsCommand::List => {
            for p in presets.all()? {
                println!("{:<16} {}", p.name, p.description);
            }
        }
        PresetsCommand::Show { name } => print!("{}", presets.text(&name)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per profile: name, NAT/TURN, description.
fn list(catalog: &Profiles) -> Result<String, CatalogError> {
    let mut out = String::new();
    let profiles = catalog.all()?;
    let width = profiles.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &profiles {
        writeln!(out, "{:width$}  {}", p.name, first_sentence(&p.description)).unwrap();
    }
    Ok(out)
}

fn first_sentence(s: &str) -> &str {
    let s = s.lines().next().unwrap_or("");
    match s.find(". ") {
        Some(i) => &s[..=i],
        None => s,
    }
}

/// The profile as written, followed by what it should do to a 20 ms voice stream.
fn show(catalog: &Profiles, name: &str) -> Result<String, CatalogError> {
    let profile = catalog.get(name)?;
    let mut out = catalog.text(name)?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let train = Train::voice(100_000);
    writeln!(out, "\n# Expected for a voice stream ({} B every {} ms):", train.size, train.spacing.as_millis())
        .unwrap();
    for (dir, spec) in directions(&profile) {
        let e = jitterbug_core::expectation::expect(spec, train);
        writeln!(out, "#   {:<8} {}", format!("{dir:?}").to_lowercase(), one_line(&e)).unwrap();
    }
    Ok(out)
}

fn one_line(s: &PathStats) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    format!(
        "loss {:.2} %, burst {}, delay p50/p95/p99 {}/{}/{} ms, reorder {:.2} %, duplicate {:.2} %",
        s.loss_rate * 100.0,
        s.mean_burst.map_or("-".into(), |b| format!("{b:.2}")),
        ms(s.delay_ms_p50),
        ms(s.delay_ms_p95),
        ms(s.delay_ms_p99),
        s.reorder_rate * 100.0,
        s.duplicate_rate * 100.0
    )
}

/// The measured-vs-configured table `profiles sample` prints for people.
fn sample_table(profile: &str, c: &Comparison) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{profile} ({}): {} packets of {} B every {} ms, seed {}",
        format!("{:?}", c.direction).to_lowercase(),
        c.train.packets,
        c.train.size,
        c.train.spacing.as_secs_f64() * 1e3,
        c.seed
    )
    .unwrap();
    writeln!(out, "{:<16}{:>14}{:>14}", "", "configured", "measured").unwrap();
    let pct = |v: f64| format!("{:.3} %", v * 100.0);
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.3}{unit}"));
    let rows = [
        ("loss_rate", pct(c.configured.loss_rate), pct(c.measured.loss_rate)),
        ("mean_burst", opt(c.configured.mean_burst, ""), opt(c.measured.mean_burst, "")),
        ("delay_ms_p50", opt(c.configured.delay_ms_p50, " ms"), opt(c.measured.delay_ms_p50, " ms")),
        ("delay_ms_p95", opt(c.configured.delay_ms_p95, " ms"), opt(c.measured.delay_ms_p95, " ms")),
        ("delay_ms_p99", opt(c.configured.delay_ms_p99, " ms"), opt(c.measured.delay_ms_p99, " ms")),
        ("reorder_rate", pct(c.configured.reorder_rate), pct(c.measured.reorder_rate)),
        ("duplicate_rate", pct(c.configured.duplicate_rate), pct(c.measured.duplicate_rate)),
    ];
    for (k, a, b) in rows {
        writeln!(out, "{k:<16}{a:>14}{b:>14}").unwrap();
    }
    let k = &c.counters;
    writeln!(
        out,
        "counters: sent {} delivered {} lost {} (model {}, blackout {}, queue {}) bursts {} reordered {} duplicates {} corrupted {}",
        k.sent,
        k.delivered,
        k.sent - k.delivered,
        k.lost_loss_model,
        k.lost_blackout,
        k.lost_queue_overflow,
        k.loss_bursts,
        k.reordered,
        k.duplicates,
        k.corrupted
    )
    .unwrap();
    out
}

/// Validates every profile of the catalogue; returns a report and whether all were valid.
fn check(catalog: &Profiles) -> Result<(String, bool), CatalogError> {
    let mut out = String::new();
    let mut ok = true;
    let results = catalog.check()?;
    for (name, r) in &results {
        match r {
            Ok(_) => writeln!(out, "ok      {name}").unwrap(),
            Err(e) => {
                ok = false;
                writeln!(out, "INVALID {name}: {e}").unwrap();
            }
        }
    }
    let bad = results.iter().filter(|(_, r)| r.is_err()).count();
    writeln!(out, "{} profiles, {} valid, {} invalid", results.len(), results.len() - bad, bad).unwrap();
    Ok((out, ok))
}
