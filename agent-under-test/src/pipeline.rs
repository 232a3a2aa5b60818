//! The reference agent pipeline: streaming ASR → agent → TTS stages behind traits.
//!
//! No models run here: each stage takes its configured latency budget (design report table 5,
//! docs/design-report.md) and passes audio through, so what a test measures is the transport,
//! the jitter buffer and the turn-taking logic around a pipeline of known cost. Every stage's
//! start and end is timestamped in the session trace, so the report can draw the latency
//! budget as measured.

use std::time::Duration;

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

/// Per-stage latency budgets (design report table 5, docs/design-report.md; the defaults sit at
/// the low end of each range).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageBudgets {
    pub asr: Duration,
    pub agent: Duration,
    pub tts: Duration,
}

impl Default for StageBudgets {
    fn default() -> Self {
        StageBudgets {
            asr: Duration::from_millis(100),
            agent: Duration::from_millis(100),
            tts: Duration::from_millis(80),
        }
    }
}
