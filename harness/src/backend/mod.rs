//! Where scenarios run. Each backend says what it can run here ([`Backend::supports`], the one
//! place that decides `unsupported`), how many scenarios may run at once, and runs one into
//! its artifacts. The runner, the single-call commands and the report's evidence all go
//! through this trait.

mod live;
mod netns;
mod sim;

use std::num::NonZeroUsize;

use jitterbug_core::identity::BackendKind;

pub use live::{BrowserOptions, LiveBackend};
pub use netns::NetnsBackend;
pub use sim::{Mode, SimBackend};

use crate::artifacts::CallArtifacts;
use crate::scenario::Scenario;

/// Why a backend cannot run a scenario here: recorded as `status: unsupported`, never a pass
/// and never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// How many of a backend's scenarios may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Every core: independent, seeded, CPU-bound work whose results do not depend on it.
    Cores,
    /// This many calls: real-time calls share the CPU, and a loaded host shapes their timing.
    Calls(NonZeroUsize),
}

pub trait Backend: Sync {
    fn kind(&self) -> BackendKind;

    /// Whether `s` can run on this backend here.
    fn supports(&self, s: &Scenario<'_>) -> Result<(), Unsupported>;

    fn concurrency(&self) -> Concurrency;

    /// Runs `s`. What the scenario met (loss of the call, a browser without WebRTC, an
    /// overloaded host) is in the result's status; `Err` means no result could be made.
    fn run(&self, s: &Scenario<'_>) -> anyhow::Result<CallArtifacts>;

    /// Whether a matrix keeps every call's evidence: a real-time call cannot be re-run to get
    /// it back, a simulated one can.
    fn keeps_evidence(&self) -> bool;

    /// What `--shard K/N` slices by.
    fn shard_key(&self, s: &Scenario<'_>) -> String {
        s.id(self.kind())
    }
}
