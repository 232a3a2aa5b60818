//! The result schema shared by every backend (`results.json`).

use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or disappears; adding fields keeps the version.
pub const SCHEMA_VERSION: u32 = 1;

/// Outcome of a scenario: ran, could not run here (with a reason), or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Ok,
    Unsupported { reason: String },
    Error { reason: String },
}

/// `results.json`: every scenario of a run. Run metadata (dates, hosts) lives in `run.json`,
/// so the same seed gives byte-identical results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results<S> {
    pub schema_version: u32,
    pub scenarios: Vec<S>,
}

impl<S> Results<S> {
    pub fn new(scenarios: Vec<S>) -> Self {
        Results { schema_version: SCHEMA_VERSION, scenarios }
    }
}
