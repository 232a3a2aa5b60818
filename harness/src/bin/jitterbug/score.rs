//! `jitterbug score`: two recordings against each other.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// STOI, ESTOI and delay of a degraded recording against its reference (any sample rate, both
/// files the same rate). The degraded file is aligned to the reference first.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[arg(long, value_name = "REF.wav")]
    reference: PathBuf,
    #[arg(long, value_name = "DEG.wav")]
    degraded: PathBuf,
    /// Score the pair as given (like pystoi), without aligning by the estimated delay.
    #[arg(long)]
    no_align: bool,
    #[arg(long)]
    json: bool,
}

pub fn score(a: ScoreArgs) -> anyhow::Result<ExitCode> {
    let s = jitterbug::score::files(&a.reference, &a.degraded, !a.no_align)?;
    if a.json {
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
    Ok(ExitCode::SUCCESS)
}
