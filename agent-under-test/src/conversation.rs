//! Turn-taking, sans-I/O: decoded uplink audio in (10 ms blocks, with the time), agent audio
//! out. VAD finds speech; a pause longer than the hangover ends the user's turn; the turn's
//! audio then goes through the pipeline's stages (each taking its budget) and the answer is
//! streamed out frame by frame as it is "synthesised". Told the time, never reads a clock, so
//! tests drive it in virtual time.
//!
//! What it measures, because these are what impairment does to a voice agent:
//! - **false end of turn**: a turn ended, and the user went on speaking within
//!   [`RESUME_WINDOW`], before the answer started — the pause was a loss burst concealed to silence, DTX, or a hesitation
//!   the hangover was too short for. Each is attributed: concealment if concealed audio fell in
//!   the pause, else a pause;
//! - **barge-in**: the user speaks while the agent talks; the agent stops after
//!   [`BARGE_IN_CONFIRM`] of speech and the time from the user's onset to the stop is recorded;
//! - **turn success**: every user turn answered exactly once.

use std::collections::VecDeque;
use std::time::Duration;

pub use jitterbug_core::agent_trace::{ConversationCounters, FalseEndCause, Span, Turn};
use jitterbug_core::time::Timestamp;
use jitterbug_core::vad::{VAD_BLOCK, Vad, VadConfig};

use crate::pipeline::{Behaviour, StageBudgets};

/// Speech resuming this soon after a turn ended makes that end of turn false.
pub const RESUME_WINDOW: Duration = Duration::from_millis(1500);
/// Speech over the agent for this long stops it (shorter is a cough or an echo).
pub const BARGE_IN_CONFIRM: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
enum User {
    Silent,
    Speaking { start: Timestamp, last_speech: Timestamp, concealed_in_pause: bool },
}

/// An answer on its way through the stages, then out.
#[derive(Debug)]
struct Answer {
    turn: usize,
    first_frame: Timestamp,
    audio: Vec<i16>,
    /// Samples handed out so far.
    sent: usize,
}

pub struct Conversation {
    vad: Vad,
    hangover: Duration,
    budgets: StageBudgets,
    behaviour: Behaviour,
    user: User,
    utterance: Vec<i16>,
    answers: VecDeque<Answer>,
    /// Speech onset while the agent was talking.
    barge_onset: Option<Timestamp>,
    script_next: usize,
    /// Whether concealed audio fell in the pause that ended the last turn.
    pending_pause_concealed: bool,
    turns: Vec<Turn>,
    counters: ConversationCounters,
}

fn ms(t: Timestamp) -> f64 {
    t.as_nanos() as f64 / 1e6
}

impl Conversation {
    pub fn new(behaviour: Behaviour, budgets: StageBudgets, hangover: Duration) -> Conversation {
        Conversation {
            vad: Vad::new(VadConfig::default()),
            hangover,
            budgets,
            behaviour,
            user: User::Silent,
            utterance: Vec::new(),
            answers: VecDeque::new(),
            barge_onset: None,
            script_next: 0,
            pending_pause_concealed: false,
            turns: Vec::new(),
            counters: ConversationCounters::default(),
        }
    }

    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    pub fn counters(&self) -> ConversationCounters {
        self.counters
    }

    /// Whether the agent is talking (an answer has frames out and more to send).
    pub fn agent_talking(&self, now: Timestamp) -> bool {
        self.answers.front().is_some_and(|a| a.sent > 0 || a.first_frame <= now)
    }

    /// One 10 ms block of decoded uplink audio played out at `now`; `concealed` when the
    /// jitter buffer synthesised (part of) it.
    pub fn push_uplink(&mut self, now: Timestamp, block: &[i16], concealed: bool) {
        debug_assert_eq!(block.len(), VAD_BLOCK);
        let speech = self.vad.push(block);
        if speech {
            self.on_speech(now);
        }
        match &mut self.user {
            User::Silent => {}
            User::Speaking { start, last_speech, concealed_in_pause } => {
                self.utterance.extend_from_slice(block);
                if speech {
                    *concealed_in_pause = false;
                } else {
                    *concealed_in_pause |= concealed;
                    if now.saturating_since(*last_speech) >= self.hangover {
                        let (start, last_speech) = (*start, *last_speech);
                        self.end_turn(now, start, last_speech);
                    }
                }
            }
        }
    }

    fn on_speech(&mut self, now: Timestamp) {
        match &mut self.user {
            User::Speaking { last_speech, .. } => *last_speech = now,
            User::Silent => {
                // A turn that just ended and speech again: that end was false.
                let concealed = self.pending_pause_concealed;
                // Once the answer is playing, speech is a barge-in, not a resumed turn.
                if let Some(t) = self.turns.last_mut()
                    && t.false_end.is_none()
                    && t.first_audio_out_ms.is_none()
                    && now.saturating_since(Timestamp::from_nanos((t.end_of_turn_ms * 1e6) as u64)) <= RESUME_WINDOW
                {
                    let cause = if concealed { FalseEndCause::Concealment } else { FalseEndCause::Pause };
                    t.false_end = Some(cause);
                    self.counters.false_end_of_turn += 1;
                    self.counters.false_end_concealment += u64::from(cause == FalseEndCause::Concealment);
                }
                self.user = User::Speaking { start: now, last_speech: now, concealed_in_pause: false };
                self.utterance.clear();
            }
        }
        if self.agent_talking(now) {
            let onset = *self.barge_onset.get_or_insert(now);
            if now.saturating_since(onset) >= BARGE_IN_CONFIRM {
                if let Some(a) = self.answers.pop_front()
                    && let Some(t) = self.turns.get_mut(a.turn)
                {
                    t.barge_in_stop_ms = Some(ms(now) - ms(onset));
                }
                self.counters.barge_ins += 1;
                self.barge_onset = None;
            }
        } else {
            self.barge_onset = None;
        }
    }

    fn end_turn(&mut self, now: Timestamp, start: Timestamp, last_speech: Timestamp) {
        let concealed = matches!(self.user, User::Speaking { concealed_in_pause: true, .. });
        self.user = User::Silent;
        self.pending_pause_concealed = concealed;
        let utterance = std::mem::take(&mut self.utterance);
        let audio = match &self.behaviour {
            Behaviour::Echo => utterance,
            Behaviour::Scripted(clips) if clips.is_empty() => Vec::new(),
            Behaviour::Scripted(clips) => {
                let clip = &clips[self.script_next % clips.len()];
                self.script_next += 1;
                clip.samples.clone()
            }
        };
        let asr_end = now + self.budgets.asr;
        let agent_end = asr_end + self.budgets.agent;
        let first_frame = agent_end + self.budgets.tts;
        let index = self.turns.len();
        let answer_ms = audio.len() as f64 / 48.0;
        self.turns.push(Turn {
            index,
            speech_start_ms: ms(start),
            speech_end_ms: ms(last_speech),
            end_of_turn_ms: ms(now),
            asr: Span { start_ms: ms(now), end_ms: ms(asr_end) },
            agent: Span { start_ms: ms(asr_end), end_ms: ms(agent_end) },
            tts: Span { start_ms: ms(agent_end), end_ms: ms(first_frame) + answer_ms },
            first_audio_out_ms: None,
            answer_ms,
            false_end: None,
            barge_in_stop_ms: None,
            answered: false,
        });
        self.counters.turns += 1;
        self.answers.push_back(Answer { turn: index, first_frame, audio, sent: 0 });
    }

    /// The next `n` samples (one frame) of agent audio to send at `now`: the answer being
    /// streamed, or silence.
    pub fn next_frame(&mut self, now: Timestamp, n: usize) -> Vec<i16> {
        let mut out = vec![0i16; n];
        let Some(a) = self.answers.front_mut() else { return out };
        if a.first_frame > now {
            return out;
        }
        if a.sent == 0 {
            self.counters.answers_started += 1;
            if let Some(t) = self.turns.get_mut(a.turn) {
                t.first_audio_out_ms = Some(ms(now));
            }
        }
        let take = n.min(a.audio.len() - a.sent);
        out[..take].copy_from_slice(&a.audio[a.sent..a.sent + take]);
        a.sent += take;
        if a.sent >= a.audio.len() {
            let done = self.answers.pop_front().expect("front exists");
            self.counters.answers_completed += 1;
            if let Some(t) = self.turns.get_mut(done.turn) {
                t.answered = true;
            }
        }
        out
    }
}
