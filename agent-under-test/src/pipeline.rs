//! The reference agent pipeline: streaming ASR → agent → TTS stages behind traits.
//!
//! No models run here: each stage takes its configured latency budget (design report table 5,
//! docs/design-report.md) and passes audio through, so what a test measures is the transport,
//! the jitter buffer and the turn-taking logic around a pipeline of known cost. Every stage's
//! start and end is timestamped in the session trace, so the report can draw the latency
//! budget as measured.

pub use jitterbug_core::agent_trace::StageBudgets;
use serde::Serialize;

/// What the agent answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Behaviour {
    /// Plays the user's utterance back once the turn ends.
    Echo,
    /// Answers each turn with the next clip from a list (mono 48 kHz PCM), wrapping around.
    Scripted(Vec<ScriptedClip>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptedClip {
    pub name: String,
    #[serde(skip)]
    pub samples: Vec<i16>,
}
