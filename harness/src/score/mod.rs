//! Scoring: one direction's audio against what was said ([`direction`]), a whole live call on
//! the agent's and the caller's timelines ([`two_sided`]), two files against each other
//! ([`files`]).

pub mod agent_record;
mod direction;
mod files;
pub mod two_sided;
pub mod voice_to_voice;

pub use direction::{DirectionInputs, Intelligibility, direction, intelligibility};
pub use files::{Score, files};
