//! One scenario on one backend, its evidence in a directory: what `sim`, `call` and `browser`
//! share.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use jitterbug::artifacts::{self, CallArtifacts};
use jitterbug::backend::Backend;
use jitterbug::scenario::Scenario;
use jitterbug::store;
use jitterbug_core::results::Status;

use crate::summary;

/// Runs `s` (or records why it cannot run here) and writes its files into `out`; prints the
/// result. Exit 0 ok, 3 unsupported, 1 error or invalid.
pub fn run(
    backend: &dyn Backend,
    s: &Scenario<'_>,
    out: &Path,
    json: bool,
    command_line: &[String],
) -> anyhow::Result<ExitCode> {
    let started = SystemTime::now();
    let a = match backend.supports(s) {
        Ok(()) => backend.run(s)?,
        Err(u) => CallArtifacts {
            result: jitterbug_core::results::ScenarioResult {
                status: Status::Unsupported { reason: u.0 },
                ..s.blank_result(backend.kind(), s.clip.pcm.len() as f64 / f64::from(jitterbug::clips::RATE))
            },
            files: Vec::new(),
        },
    };
    artifacts::write(out, &a)?;
    store::write_run_info(out, started, command_line, &[s.seed], 1)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&a.result)?);
    } else {
        print!("{}", summary::scenario(&a.result));
        println!("wrote {}/{}, run.json", out.display(), a.names().join(", "));
    }
    Ok(match a.result.status {
        Status::Ok => ExitCode::SUCCESS,
        Status::Unsupported { .. } => ExitCode::from(3),
        Status::Error { .. } | Status::Invalid { .. } => ExitCode::from(1),
    })
}
