//! Commands over results files: `gate`, `bless`, `report`, `compat`, `merge`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use jitterbug::catalog::{Presets, Profiles};
use jitterbug::evidence::Evidence;
use jitterbug::gate::{self, Outcome};
use jitterbug::{compat, report, store};

/// Compare results with the golden baselines: exit 0 when every blessed scenario ran and every
/// metric is within tolerance, 1 on a regression or changed status, 2 when blessed scenarios
/// are missing or the results file is incomplete (fail closed).
#[derive(Args, Debug)]
pub struct GateArgs {
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
    /// Also fail (exit 1) on scenarios the baseline does not have, so nothing slips through
    /// unblessed.
    #[arg(long)]
    strict: bool,
}

/// Deliberately accept results as the new baselines, printing what changed.
#[derive(Args, Debug)]
pub struct BlessArgs {
    #[arg(long, default_value = "golden", value_name = "DIR")]
    baseline: PathBuf,
    #[arg(long, value_name = "RESULTS.json")]
    results: PathBuf,
}

/// Render results.json as one self-contained HTML report (no network fetches): summary against
/// golden, heatmaps, latency CDFs, KPI table, environment.
#[derive(Args, Debug)]
pub struct ReportArgs {
    #[arg(value_name = "RESULTS.json")]
    results: PathBuf,
    /// Output file (default: report.html next to the results).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Golden baselines to gate against in the summary (default: ./golden if present).
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
}

/// The browser compatibility matrix (design report table 7, docs/design-report.md) of a run's
/// browser calls, as Markdown (or JSON): per browser, capture constraints, Opus FEC, DTX,
/// ptime, stats, TURN/UDP/TCP/TLS.
#[derive(Args, Debug)]
pub struct CompatArgs {
    #[arg(value_name = "RESULTS.json")]
    results: PathBuf,
    #[arg(long)]
    json: bool,
}

/// Combine results.json files (e.g. from `run --shard K/N` jobs) into one.
#[derive(Args, Debug)]
pub struct MergeArgs {
    #[arg(required = true, value_name = "RESULTS.json")]
    files: Vec<PathBuf>,
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

pub fn gate(a: GateArgs) -> anyhow::Result<ExitCode> {
    let results = match store::load_results(&a.results) {
        Ok(r) => r,
        Err(e) => {
            // An unreadable or truncated results file is incomplete evidence: exit 2.
            eprintln!("jitterbug: gate: {e}");
            return Ok(ExitCode::from(Outcome::Incomplete as u8));
        }
    };
    let g = gate::gate(&a.baseline, &results, &a.only, a.strict)?;
    print!("{}", g.table());
    if let Some(why) = g.rebless() {
        eprintln!("{why}");
    }
    if let Some(path) = a.junit {
        std::fs::write(&path, g.junit()).with_context(|| format!("writing {}", path.display()))?;
    }
    let outcome = g.outcome();
    eprintln!("gate: {outcome:?}");
    Ok(ExitCode::from(outcome as u8))
}

pub fn bless(a: BlessArgs) -> anyhow::Result<ExitCode> {
    let results = store::load_results(&a.results)?;
    print!("{}", gate::bless(&a.baseline, &results)?);
    Ok(ExitCode::SUCCESS)
}

pub fn report(a: ReportArgs, profiles: &Profiles, presets: &Presets) -> anyhow::Result<ExitCode> {
    let output = a.output.unwrap_or_else(|| a.results.with_file_name("report.html"));
    let results = store::load_results(&a.results)?;
    let baseline = a.baseline.or_else(|| Some(PathBuf::from("golden")).filter(|g| g.join("baselines").is_dir()));
    let g = baseline.map(|b| gate::gate(&b, &results, &[], false)).transpose()?;
    let results_dir = a.results.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let media = Evidence { profiles, presets, results_dir };
    report::write(&results.scenarios, results_dir, &output, g.as_ref(), &media)?;
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

pub fn compat(a: CompatArgs) -> anyhow::Result<ExitCode> {
    let results = store::load_results(&a.results)?;
    let rows = compat::matrix(&results.scenarios);
    anyhow::ensure!(!rows.is_empty(), "no browser calls in these results (run `jitterbug browser` or `run --clients`)");
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("{}", compat::markdown(&rows).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn merge(a: MergeArgs) -> anyhow::Result<ExitCode> {
    let merged = store::merge(&a.files)?;
    eprintln!("merged {} scenarios from {} files into {}", merged.scenarios.len(), a.files.len(), a.output.display());
    store::write_json(&a.output, &merged)?;
    Ok(ExitCode::SUCCESS)
}
